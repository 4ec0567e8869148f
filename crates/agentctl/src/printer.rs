//! One place decides how output looks: live spinners on a terminal, plain lines
//! in CI and pipes, JSON for machines. Results go to stdout; progress, warnings
//! and errors to stderr (JSON events go to stdout, one object per line).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use agentctl_aws::progress::{Event, Progress};
use agentctl_core::diagnostics::{MietteDiagnostic, Report};
use agentctl_core::text::Text;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle as BarStyle};
use owo_colors::OwoColorize;
use serde_json::Value;

use crate::exit::Failure;
use crate::settings::{ProgressStyle, Settings};

pub struct Printer {
    style: ProgressStyle,
    color: bool,
    /// `-v`: failures show their cause chain.
    verbose: bool,
    bars: Mutex<Option<(MultiProgress, HashMap<String, ProgressBar>)>>,
}

impl Printer {
    pub fn new(settings: &Settings) -> Self {
        Self { style: settings.progress, color: settings.color, verbose: settings.verbose > 0, bars: Mutex::new(None) }
    }

    pub fn is_json(&self) -> bool {
        self.style == ProgressStyle::Json
    }

    /// The command's result: text or JSON, from the same value. JSON is one
    /// object per line, so apply's plan, events and outcome form a stream.
    pub fn result(&self, text: &str, json: &Value) {
        if self.is_json() {
            stdout(&json_line(json));
        } else {
            stdout(text);
        }
    }

    /// One item of a streamed result (a log line): a line of text, or one JSON
    /// object per line. False once stdout is closed (`| head`): the stream stops.
    pub fn item(&self, text: &str, json: &Value) -> bool {
        if self.is_json() {
            stdout(&json_line(json))
        } else {
            stdout(&format!("{text}\n"))
        }
    }

    /// A line of text for people (stderr), silent in JSON mode.
    pub fn note(&self, text: &str) {
        if !self.is_json() {
            self.suspend(|| stderr(&format!("{text}\n")));
        }
    }

    pub fn warn(&self, text: &str) {
        let text =
            if self.color { format!("{}: {text}", "warning".yellow().bold()) } else { format!("warning: {text}") };
        self.suspend(|| stderr(&format!("{text}\n")));
    }

    /// Every diagnostic of a config report as miette snippets on stderr. In JSON
    /// mode they are part of the command's result instead.
    pub fn report(&self, report: &Report) {
        if self.is_json() {
            return;
        }
        let theme =
            if self.color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
        let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
        for d in &report.diagnostics {
            let mut out = String::new();
            // Rendering into a String does not fail; should it, the message still shows.
            if handler.render_report(&mut out, &MietteDiagnostic::new(report, d)).is_err() {
                out = d.message.clone();
            }
            self.suspend(|| stderr(&format!("{out}\n")));
        }
    }

    /// Asks `question` on stderr and reads the answer from stdin; empty when
    /// nothing can be read.
    pub fn ask(&self, question: &str) -> String {
        let mut answer = String::new();
        self.suspend(|| {
            stderr(question);
            if std::io::stdin().read_line(&mut answer).is_err() {
                answer.clear();
            }
        });
        answer
    }

    pub fn failure(&self, f: &Failure) {
        self.finish_bars();
        if self.is_json() {
            let v =
                serde_json::json!({"error": f.message, "help": f.help, "causes": f.causes, "exit_code": f.code as u8});
            stdout(&json_line(&v));
            return;
        }
        let head = if self.color { "error".red().bold().to_string() } else { "error".to_owned() };
        let mut text = Text::new();
        text.line(format_args!("{head}: {}", f.message));
        // What lay under an AWS error (the SDK's layers, the OS's words) is for
        // those who ask; the message already says what failed.
        if self.verbose {
            for cause in &f.causes {
                text.line(format_args!("  caused by: {cause}"));
            }
        }
        if let Some(help) = &f.help {
            text.line(format_args!("  help: {help}"));
        }
        stderr(text.as_str());
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &*self.bars.lock().expect("printer lock") {
            Some((multi, _)) => multi.suspend(f),
            None => f(),
        }
    }

    fn finish_bars(&self) {
        if let Some((_, bars)) = self.bars.lock().expect("printer lock").take() {
            for bar in bars.values() {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
        }
    }

    fn live(&self, key: &str, message: String, done: Option<bool>) {
        let mut guard = self.bars.lock().expect("printer lock");
        let (multi, bars) = guard.get_or_insert_with(|| (MultiProgress::new(), HashMap::new()));
        let bar = bars.entry(key.to_owned()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(BarStyle::with_template("  {spinner} {msg} {elapsed:.dim}").expect("template"));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        match done {
            None => bar.set_message(message),
            Some(ok) => {
                bar.set_style(BarStyle::with_template("  {msg}").expect("template"));
                let mark = match (ok, self.color) {
                    (true, true) => "✓".green().to_string(),
                    (true, false) => "✓".to_owned(),
                    (false, true) => "✗".red().to_string(),
                    (false, false) => "✗".to_owned(),
                };
                bar.finish_with_message(format!("{mark} {message}"));
            }
        }
    }
}

impl Progress for Printer {
    fn event(&self, event: &Event) {
        match self.style {
            ProgressStyle::Json => {
                stdout(&json_line(&serde_json::to_value(event).expect("json")));
            }
            ProgressStyle::Lines => stderr(&format!("{}\n", event.line())),
            ProgressStyle::Live => match event.resource_key() {
                Some(key) => self.live(&key, event.line(), event.outcome()),
                None => self.suspend(|| stderr(&format!("{}\n", event.line()))),
            },
        }
    }
}

/// Writes `text`; false when the stream is closed. Output nobody reads any
/// more (`agentctl status | head -1`) is not an error, and must not panic as
/// `println!` does.
fn write_to(mut stream: impl Write, text: &str) -> bool {
    stream.write_all(text.as_bytes()).and_then(|()| stream.flush()).is_ok()
}

fn stdout(text: &str) -> bool {
    write_to(std::io::stdout().lock(), text)
}

fn stderr(text: &str) {
    write_to(std::io::stderr().lock(), text);
}

fn json_line(value: &Value) -> String {
    format!("{}\n", serde_json::to_string(value).expect("json"))
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.finish_bars();
    }
}
