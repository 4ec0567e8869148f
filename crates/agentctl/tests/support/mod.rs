//! Test harness: a private moto server per test on a free loopback port, a temp
//! folder with a config, and runners for the agentctl binary (against moto, or
//! without it) that check every run's output for the credentials; plus what
//! tests build or inspect around it: users' existing networks, what a
//! deployment left behind, a fake image registry, a pseudo-terminal.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Distinctive credentials: if either shows up anywhere, a test fails.
pub const CLIENT_ID: &str = "cid-SENTINEL-7c1f04";
pub const CLIENT_SECRET: &str = "csec-SENTINEL-9b2e51";
pub const REGION: &str = "us-east-1";

/// The script runner's SSH public key (made-up bytes, no private key exists),
/// as distinctive: treated like the credentials, it must never show either.
pub const RUNNER_KEYS: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g keys-SENTINEL-4d7a20@maia";
const RUNNER_KEY_BLOB: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g";

/// The agent credentials (and the script runner's keys, read only when a
/// config turns the runner on) as agentctl reads them from the environment.
pub const AGENT_CREDENTIALS: [(&str, &str); 3] = [
    ("TF_VAR_client_id", CLIENT_ID),
    ("TF_VAR_client_secret", CLIENT_SECRET),
    ("TF_VAR_runner_authorized_keys", RUNNER_KEYS),
];

/// Access keys moto accepts (it accepts any).
pub const TEST_KEYS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")];

const INSTALL_HINT: &str = "moto_server was not found on PATH. Install it with:\n    python3 -m pip install -r requirements-test.txt\n(or run ./scripts/test.sh, which installs everything the tests need)";

fn find_on_path(exe: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(exe)).find(|p| p.is_file()))
}

/// A moto server started by this test and stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Moto {
    /// A moto with extra environment variables (e.g. `PYTHONPATH` for a shim).
    pub fn start(env: &[(&str, &str)]) -> Moto {
        let exe = find_on_path("moto_server").unwrap_or_else(|| panic!("{INSTALL_HINT}"));
        for _ in 0..5 {
            // The OS picks a free port; moto binds it right after (a rare race is retried).
            let port = free_port();
            let mut child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                // moto never starts tasks; with this, services report this many
                // running and their first deployment COMPLETED.
                .env("MOTO_ECS_SERVICE_RUNNING", "2")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: port taken, try another
                }
                if http_get(port, "/moto-api/").is_some() {
                    return Moto { child, port, endpoint: format!("http://127.0.0.1:{port}") };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start on a loopback port after 5 attempts");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.starts_with("HTTP/").then_some(buf)
}

/// A finished agentctl run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The run `out` came from; fails the test if a credential appears in its
    /// output.
    #[track_caller]
    pub fn checked(out: Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_no_secret(&run.all());
        run
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
}

/// One test's world: its own moto, a temp folder, a config file.
pub struct World {
    pub moto: Moto,
    pub dir: tempfile::TempDir,
    pub name: String,
    /// When set, agentctl runs reach moto through this fault-and-latency proxy
    /// (test-side SDK clients from `sdk()` still talk to moto directly).
    pub proxy: Option<faultproxy::Running>,
}

impl World {
    pub fn new(name: &str) -> World {
        World::with_moto_env(name, &[])
    }

    /// A world whose moto gets extra environment variables.
    pub fn with_moto_env(name: &str, env: &[(&str, &str)]) -> World {
        World { moto: Moto::start(env), dir: tempfile::tempdir().unwrap(), name: name.to_owned(), proxy: None }
    }

    /// A world whose agentctl runs go through a faultproxy (in this process)
    /// in front of its moto; `configure` sets latency, fault rates and seed.
    pub fn with_proxy(name: &str, configure: impl FnOnce(&mut faultproxy::Config)) -> World {
        let mut w = World::new(name);
        let mut cfg = faultproxy::Config::new(w.moto.endpoint.clone());
        configure(&mut cfg);
        w.proxy = Some(faultproxy::start(cfg).expect("start faultproxy"));
        w
    }

    /// Where agentctl runs send their requests: the proxy if there is one, else moto.
    pub fn endpoint(&self) -> String {
        self.proxy.as_ref().map_or_else(|| self.moto.endpoint.clone(), |p| p.url())
    }

    /// Writes the config: the common part plus `extra` lines.
    pub fn config(&self, extra: &str) {
        let text = format!(
            "name = \"{}\"\nregion = \"{REGION}\"\naccount_id = \"4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17\"\nagent_id = \"a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40\"\nmatillion_region = \"eu1\"\n{extra}\n",
            self.name
        );
        std::fs::write(self.dir.path().join("terraform.tfvars"), text).unwrap();
    }

    /// agentctl in the world's folder, hermetic (see `hermetic`), pointed at
    /// moto (or the proxy) with test keys and the agent credentials.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = hermetic(self.dir.path(), args);
        cmd.env("AWS_ENDPOINT_URL", self.endpoint()).envs(TEST_KEYS).envs(AGENT_CREDENTIALS);
        cmd
    }

    /// Runs agentctl to completion; fails the test if a credential appears in
    /// its output.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// `apply --yes`, which must succeed.
    pub fn apply(&self) -> Run {
        let r = self.run(&["apply", "--yes"]);
        r.expect_code(0);
        r
    }

    /// A plan that must show no change (what apply left matches the config).
    pub fn expect_no_changes(&self) {
        let plan = self.run(&["plan", "--detailed-exitcode"]);
        plan.expect_code(0);
        assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    }

    /// Like `run`, with some environment variables set or replaced for this run
    /// (another caller's access keys, say).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        Run::checked(cmd.output().expect("run agentctl"))
    }

    /// SDK settings for the test's own calls, straight to moto (never through
    /// the proxy).
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.moto.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await
    }
}

/// agentctl in `dir` with nothing of this process's environment but PATH:
/// HOME and the AWS config and credentials files inside `dir` (where there are
/// none), no instance metadata, CI set (no colours, no spinners), stdin not a
/// terminal. No endpoint and no keys: the caller adds them.
fn hermetic(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentctl"));
    cmd.current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("CI", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
        .stdin(Stdio::null());
    cmd
}

/// Runs agentctl in `dir` without moto: hermetic, no AWS keys, and
/// AWS_ENDPOINT_URL on a closed loopback port, so any AWS call fails; `env`
/// comes last and may set or replace any of it. Fails the test if a credential
/// appears in the output.
pub fn run_offline(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = hermetic(dir, args);
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", free_port())).envs(env.iter().copied());
    Run::checked(cmd.output().expect("run agentctl"))
}

/// A loopback port nothing listens on (bound, then released): free for a
/// server to take, refused to a client.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A runtime for a test's own SDK calls: `rt().block_on(async { ... })`.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Fails the test if a credential appears in `text`.
#[track_caller]
pub fn assert_no_secret(text: &str) {
    assert!(!text.contains(CLIENT_ID), "client_id leaked:\n{text}");
    assert!(!text.contains(CLIENT_SECRET), "client_secret leaked:\n{text}");
    assert!(
        !text.contains(RUNNER_KEY_BLOB) && !text.contains("keys-SENTINEL"),
        "runner_authorized_keys leaked:\n{text}"
    );
}

/// The tag agentctl puts on everything it creates.
pub const OWNERSHIP_TAG: &str = "agentctl:deployment";

/// Everything of this deployment left in moto, per service, as "kind name"
/// lines, sorted: resources tagged with its name, IAM roles, log groups,
/// buckets, secrets and Cloud Map namespaces named after it, its active
/// cluster, its task definitions, and every SSM parameter (the lock among them).
pub fn owned_resources(w: &World) -> Vec<String> {
    rt().block_on(async {
        let cfg = w.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let tag_filter =
            aws_sdk_ec2::types::Filter::builder().name(format!("tag:{OWNERSHIP_TAG}")).values(&w.name).build();
        let mut out = Vec::new();
        for v in ec2.describe_vpcs().filters(tag_filter.clone()).send().await.unwrap().vpcs() {
            out.push(format!("vpc {}", v.vpc_id().unwrap()));
        }
        for s in ec2.describe_subnets().filters(tag_filter.clone()).send().await.unwrap().subnets() {
            out.push(format!("subnet {}", s.subnet_id().unwrap()));
        }
        for g in ec2.describe_security_groups().filters(tag_filter.clone()).send().await.unwrap().security_groups() {
            out.push(format!("sg {}", g.group_id().unwrap()));
        }
        for g in ec2.describe_internet_gateways().filters(tag_filter.clone()).send().await.unwrap().internet_gateways()
        {
            out.push(format!("igw {}", g.internet_gateway_id().unwrap()));
        }
        for t in ec2.describe_route_tables().filters(tag_filter.clone()).send().await.unwrap().route_tables() {
            out.push(format!("rtb {}", t.route_table_id().unwrap()));
        }
        for f in ec2.describe_flow_logs().filter(tag_filter.clone()).send().await.unwrap().flow_logs() {
            out.push(format!("flow-log {}", f.flow_log_id().unwrap()));
        }
        let iam = aws_sdk_iam::Client::new(&cfg);
        for r in iam.list_roles().send().await.unwrap().roles() {
            if r.role_name().starts_with(&w.name) {
                out.push(format!("role {}", r.role_name()));
            }
        }
        let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
        for g in logs.describe_log_groups().send().await.unwrap().log_groups() {
            if g.log_group_name().unwrap_or_default().contains(&w.name) {
                out.push(format!("log-group {}", g.log_group_name().unwrap()));
            }
        }
        let s3 = aws_sdk_s3::Client::new(&cfg);
        for b in s3.list_buckets().send().await.unwrap().buckets() {
            if b.name().unwrap_or_default().starts_with(&w.name) {
                out.push(format!("bucket {}", b.name().unwrap()));
            }
        }
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        for c in ecs.describe_clusters().clusters(&w.name).send().await.unwrap().clusters() {
            if c.status() == Some("ACTIVE") {
                out.push(format!("cluster {}", c.cluster_name().unwrap()));
            }
        }
        for family in ["agent", "script-runner"] {
            let listed = ecs.list_task_definitions().family_prefix(format!("{}-{family}", w.name)).send().await;
            for arn in listed.unwrap().task_definition_arns() {
                out.push(format!("task-definition {arn}"));
            }
        }
        let cloudmap = aws_sdk_servicediscovery::Client::new(&cfg);
        for ns in cloudmap.list_namespaces().send().await.unwrap().namespaces() {
            if ns.name().unwrap_or_default().starts_with(&w.name) {
                out.push(format!("namespace {}", ns.name().unwrap_or_default()));
            }
        }
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        for s in sm.list_secrets().send().await.unwrap().secret_list() {
            if s.name().unwrap_or_default().starts_with(&w.name) && s.deleted_date().is_none() {
                out.push(format!("secret {}", s.name().unwrap()));
            }
        }
        let ssm = aws_sdk_ssm::Client::new(&cfg);
        for p in ssm.describe_parameters().send().await.unwrap().parameters() {
            out.push(format!("parameter {}", p.name().unwrap()));
        }
        out.sort();
        out
    })
}

/// Where a network's own route table sends 0.0.0.0/0.
#[derive(Clone, Copy, Debug)]
pub enum DefaultRoute {
    /// To an internet gateway attached to the VPC: public subnets.
    InternetGateway,
    /// To a NAT gateway in a subnet of its own (`10.N.100.0/24`): private
    /// subnets with a way out.
    Nat,
    /// Nowhere: private subnets without a way out.
    Nowhere,
}

/// A user's existing network, built in moto: a VPC `10.N.0.0/16` with DNS
/// support and hostnames on, and its subnets (by default `10.N.1.0/24` in
/// us-east-1a and `10.N.2.0/24` in us-east-1b), untagged and on the VPC's main
/// route table unless told otherwise.
pub struct Network {
    n: u8,
    subnets: Vec<(String, String)>,
    name_prefix: Option<String>,
    tags: Vec<(String, String)>,
    default_route: Option<DefaultRoute>,
    public_ip: bool,
}

/// The ids of what `Network::build` made.
pub struct BuiltNetwork {
    pub vpc: String,
    /// In the order the subnets were given.
    pub subnets: Vec<String>,
}

impl Network {
    pub fn new(n: u8) -> Network {
        Network {
            n,
            subnets: vec![
                (format!("10.{n}.1.0/24"), "us-east-1a".into()),
                (format!("10.{n}.2.0/24"), "us-east-1b".into()),
            ],
            name_prefix: None,
            tags: Vec::new(),
            default_route: None,
            public_ip: false,
        }
    }

    /// These subnets, as (CIDR, zone), instead of the default two.
    pub fn subnets(mut self, subnets: &[(&str, &str)]) -> Network {
        self.subnets = subnets.iter().map(|&(cidr, zone)| (cidr.into(), zone.into())).collect();
        self
    }

    /// `Name` tags the way the reference Terraform module gives them:
    /// `PREFIX-vpc`, `PREFIX-igw`, `PREFIX-public-route-table` (or
    /// `-private-route-table` without an internet gateway), `PREFIX-ecs-subnet-I`
    /// (I from 0, in the order given).
    pub fn named(mut self, prefix: &str) -> Network {
        self.name_prefix = Some(prefix.into());
        self
    }

    /// A tag on everything the network is made of, besides `Name`.
    pub fn tag(mut self, key: &str, value: &str) -> Network {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// The subnets get a route table of their own whose 0.0.0.0/0 goes where
    /// `route` says.
    pub fn default_route(mut self, route: DefaultRoute) -> Network {
        self.default_route = Some(route);
        self
    }

    /// The subnets give what starts in them a public IP.
    pub fn public_ip_on_launch(mut self) -> Network {
        self.public_ip = true;
        self
    }

    pub async fn build(self, ec2: &aws_sdk_ec2::Client) -> BuiltNetwork {
        use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType, Tag, TagSpecification};
        let on = || AttributeBooleanValue::builder().value(true).build();
        // The common tags, plus `Name` if the network is named; None if no tag at all.
        let tags = |kind: ResourceType, name: &str| {
            let mut tags: Vec<Tag> = self.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            if let Some(prefix) = &self.name_prefix {
                tags.push(Tag::builder().key("Name").value(format!("{prefix}-{name}")).build());
            }
            (!tags.is_empty())
                .then(|| vec![TagSpecification::builder().resource_type(kind).set_tags(Some(tags)).build()])
        };
        let n = self.n;
        let vpc = ec2
            .create_vpc()
            .cidr_block(format!("10.{n}.0.0/16"))
            .set_tag_specifications(tags(ResourceType::Vpc, "vpc"))
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
        ec2.modify_vpc_attribute().vpc_id(&vpc).enable_dns_support(on()).send().await.unwrap();
        ec2.modify_vpc_attribute().vpc_id(&vpc).enable_dns_hostnames(on()).send().await.unwrap();
        let mut subnets = Vec::new();
        for (i, (cidr, zone)) in self.subnets.iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(zone)
                .set_tag_specifications(tags(ResourceType::Subnet, &format!("ecs-subnet-{i}")))
                .send()
                .await
                .unwrap();
            let s = s.subnet().unwrap().subnet_id().unwrap().to_owned();
            if self.public_ip {
                ec2.modify_subnet_attribute().subnet_id(&s).map_public_ip_on_launch(on()).send().await.unwrap();
            }
            subnets.push(s);
        }
        let Some(route) = self.default_route else { return BuiltNetwork { vpc, subnets } };
        let table_name = match route {
            DefaultRoute::InternetGateway => "public-route-table",
            DefaultRoute::Nat | DefaultRoute::Nowhere => "private-route-table",
        };
        let table = ec2
            .create_route_table()
            .vpc_id(&vpc)
            .set_tag_specifications(tags(ResourceType::RouteTable, table_name))
            .send()
            .await
            .unwrap();
        let table = table.route_table().unwrap().route_table_id().unwrap().to_owned();
        for s in &subnets {
            ec2.associate_route_table().route_table_id(&table).subnet_id(s).send().await.unwrap();
        }
        let out = ec2.create_route().route_table_id(&table).destination_cidr_block("0.0.0.0/0");
        match route {
            DefaultRoute::InternetGateway => {
                let igw = ec2
                    .create_internet_gateway()
                    .set_tag_specifications(tags(ResourceType::InternetGateway, "igw"))
                    .send()
                    .await
                    .unwrap();
                let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
                ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
                out.gateway_id(igw).send().await.unwrap();
            }
            DefaultRoute::Nat => {
                let public =
                    ec2.create_subnet().vpc_id(&vpc).cidr_block(format!("10.{n}.100.0/24")).send().await.unwrap();
                let public = public.subnet().unwrap().subnet_id().unwrap().to_owned();
                let eip = ec2.allocate_address().domain(DomainType::Vpc).send().await.unwrap();
                let eip = eip.allocation_id().unwrap().to_owned();
                let nat = ec2.create_nat_gateway().subnet_id(&public).allocation_id(eip).send().await.unwrap();
                out.nat_gateway_id(nat.nat_gateway().unwrap().nat_gateway_id().unwrap()).send().await.unwrap();
            }
            DefaultRoute::Nowhere => {}
        }
        BuiltNetwork { vpc, subnets }
    }
}

/// The body of a plain GET to the test's moto, for answers the SDK cannot parse
/// (moto's GetBucketVersioning has the wrong root element).
pub fn moto_get(w: &World, path: &str) -> String {
    let response = http_get(w.moto.port, path).expect("moto answers");
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// A fake OCI registry on a free loopback port (tests/support/fake_registry.py),
/// serving the images given, stopped when dropped.
pub struct FakeRegistry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl FakeRegistry {
    /// `images`: `{"repo:tag": {"index": [[os, arch], ...]} | {"single": [os, arch]}}`.
    pub fn start(images: &serde_json::Value) -> FakeRegistry {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("images.json");
        std::fs::write(&file, images.to_string()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_registry.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--images"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 fake_registry.py");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let port = first.trim().parse().unwrap_or_else(|_| panic!("fake registry printed {first:?}, not its port"));
        FakeRegistry { child, port, _dir: dir }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pseudo-terminal for a child process: what a person's terminal is to
/// agentctl (stdin and stderr are terminals), without `script` or any tool.
/// What the child writes is read as it comes, so it never blocks on a full
/// terminal buffer.
pub struct Pty {
    input: std::fs::File,
    reader: std::thread::JoinHandle<String>,
}

impl Pty {
    /// Spawns `cmd` with stdin, stdout and stderr on a new terminal.
    pub fn spawn(cmd: &mut Command) -> (Child, Pty) {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pseudo-terminal");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let terminal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("a path"))
            .expect("open the terminal's other end");
        let child = cmd
            .stdin(terminal.try_clone().unwrap())
            .stdout(terminal.try_clone().unwrap())
            .stderr(terminal)
            .spawn()
            .expect("spawn on the terminal");
        // The command keeps its copies of the terminal until it is dropped:
        // close them, so the reader sees the end when the child exits.
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let master = std::fs::File::from(master);
        let input = master.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut master = master;
            let mut out = Vec::new();
            // Linux answers EIO once the last writer is gone: that is the end.
            let _ = master.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        });
        (child, Pty { input, reader })
    }

    /// Types `text` at the terminal.
    pub fn type_in(&mut self, text: &str) {
        self.input.write_all(text.as_bytes()).unwrap();
    }

    /// Everything written to the terminal, once the child has closed it.
    pub fn output(self) -> String {
        self.reader.join().expect("terminal reader")
    }
}
