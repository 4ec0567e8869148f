#!/usr/bin/env python3
"""Measures agentctl and its peers against one moto behind one faultproxy.

Run through bench/run.sh, which builds, installs the peers, starts moto and the
proxy and passes their locations here. Every measured command runs with the
proxy's stats reset before it; afterwards the proxy's request log gives the
request count per operation and the number of round-trip waves (requests whose
in-flight intervals overlap form one wave).

Writes a JSON file with every sample and a Markdown report with medians and
ratios.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

NAME = "bench"
IMAGES = ["public.ecr.aws/matillion/etl-agent:stable", "public.ecr.aws/matillion/etl-agent:current"]
CONFIG = f"""name = "{NAME}"
region = "us-east-1"
account_id = "4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17"
agent_id = "a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40"
matillion_region = "eu1"
"""


def http(url, method="GET"):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


class Bench:
    def __init__(self, args):
        self.a = args
        self.samples = []  # dicts: op, tool, wall_s, requests, waves, rss_kb, by_operation
        self.dir = tempfile.mkdtemp(prefix="agentctl-bench-")
        with open(os.path.join(self.dir, "terraform.tfvars"), "w") as f:
            f.write(CONFIG)
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": self.dir,
            "CI": "true",
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": args.proxy,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.path.join(self.dir, "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "no-aws-credentials"),
            "TF_VAR_client_id": "bench-client-id",
            "TF_VAR_client_secret": "bench-client-secret",
        }

    # -- running things -------------------------------------------------------

    def run(self, argv, expect=(0,)):
        """Runs one command under /usr/bin/time; returns (wall seconds, peak RSS KiB, stdout)."""
        timef = os.path.join(self.dir, "time.txt")
        cmd = [self.a.time, "-f", "%M", "-o", timef] + argv
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode not in expect:
            sys.exit(f"bench: {' '.join(argv)} exited {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
        with open(timef) as f:
            rss = int(f.read().strip().splitlines()[-1])
        return wall, rss, p.stdout

    def measure(self, op, tool, steps, expect=(0,)):
        """Runs `steps` (a list of argv) back to back as one measured operation."""
        http(self.a.proxy + "/__faultproxy/reset", "POST")
        wall, rss = 0.0, 0
        t0 = time.perf_counter()
        for argv in steps:
            _, r, _ = self.run(argv, expect)
            rss = max(rss, r)
        wall = time.perf_counter() - t0
        s = http(self.a.proxy + "/__faultproxy/stats")
        sample = {
            "op": op,
            "tool": tool,
            "wall_s": wall,
            "requests": s["requests"],
            "waves": s["waves"],
            "rss_kb": rss,
            "by_operation": s["by_operation"],
        }
        self.samples.append(sample)
        print(f"  {op:<28} {tool:<34} {wall*1000:8.0f} ms {s['requests']:4d} req {s['waves']:3d} waves {rss/1024:6.1f} MiB", flush=True)
        return sample

    def agentctl(self, *args):
        return [self.a.agentctl, *args]

    def aws(self, *args):
        return [self.a.aws, "--region", "us-east-1", "--output", "json", *args]

    def ecs_deploy(self, *args):
        return [self.a.ecs_deploy, *args, "--region", "us-east-1", "--access-key-id", "testing", "--secret-access-key", "testing"]

    # -- the stack --------------------------------------------------------------

    def dependency_levels(self):
        """Levels of the dependency graph of the full stack, from plan --offline -o json."""
        _, _, out = self.run(self.agentctl("plan", "--offline", "-o", "json"), expect=(0, 2))
        deps = {r["address"]: r.get("depends_on") or [] for r in json.loads(out)["resources"]}
        memo = {}

        def level(a, seen=()):
            if a not in memo:
                memo[a] = 1 + max((level(d, seen + (a,)) for d in deps.get(a, []) if d in deps and d not in seen), default=0)
            return memo[a]

        return max((level(a) for a in deps), default=0), len(deps)

    def cluster_service(self):
        _, _, out = self.run(self.agentctl("outputs", "-o", "json"))
        o = json.loads(out)
        def find(*keys):
            for k in keys:
                v = o.get(k)
                if isinstance(v, dict):
                    v = v.get("name") or v.get("arn")
                if v:
                    return v.split("/")[-1]
            sys.exit(f"bench: no {keys} in outputs: {out}")
        return find("cluster", "cluster_name"), find("service", "service_name")

    # -- the measurements -------------------------------------------------------

    def go(self):
        a = self.a
        print(f"bench: working folder {self.dir}; proxy {a.proxy}; latency {a.latency_ms} ms; {a.repeat} repeats", flush=True)
        # Warm moto up (it imports each service's backend on first use) with one unmeasured cycle.
        print("warm-up (not measured)", flush=True)
        self.run(self.agentctl("apply", "--yes"))
        self.run(self.agentctl("destroy", "--yes", "--force-delete-secret"))
        levels, resources = self.dependency_levels()
        print(f"the full stack: {resources} resources in {levels} dependency levels", flush=True)

        for cycle in range(a.cycles):
            print(f"cycle {cycle + 1}/{a.cycles}", flush=True)
            self.measure("apply from nothing", "agentctl", [self.agentctl("apply", "--yes")])
            cluster, service = self.cluster_service()
            for i in range(a.repeat):
                self.measure("no-op plan", "agentctl", [self.agentctl("plan", "--detailed-exitcode")])
            for i in range(a.repeat):
                self.measure("status", "agentctl", [self.agentctl("status")])
                self.measure("status", "aws CLI (3 commands)", self.aws_status(cluster, service))
            for i in range(a.repeat):
                self.measure("usage (14 days)", "agentctl", [self.agentctl("usage")])
                self.measure("usage (14 days)", "aws CLI (get-metric-statistics per metric)", self.aws_usage(cluster, service))
                self.measure("list", "agentctl", [self.agentctl("list")])
            for i in range(a.repeat):
                img = IMAGES[i % 2]
                self.measure("redeploy new image", "agentctl --no-wait", [self.agentctl("redeploy", "--image", img, "--no-wait")])
                img = IMAGES[(i + 1) % 2]
                self.measure("redeploy new image", "ecs-deploy (no wait)", [self.ecs_deploy("deploy", cluster, service, "--image", "agent", img, "--timeout", "-1")])
                img = IMAGES[i % 2]
                self.measure("redeploy new image, wait", "agentctl", [self.agentctl("redeploy", "--image", img)])
                self.measure("redeploy same image", "agentctl --no-wait", [self.agentctl("redeploy", "--no-wait")])
                self.measure("redeploy same image", "aws CLI (1 command)", [self.aws("ecs", "update-service", "--cluster", cluster, "--service", service, "--force-new-deployment")])
            for i in range(a.repeat):
                n = str(3 + i % 2)
                self.measure("scale", "agentctl --no-wait", [self.agentctl("scale", n, "--no-wait")])
                n = str(3 + (i + 1) % 2)
                self.measure("scale", "ecs-deploy (no wait)", [self.ecs_deploy("scale", cluster, service, n, "--timeout", "-1")])
                n = str(3 + i % 2)
                self.measure("scale, wait", "agentctl", [self.agentctl("scale", n)])
                n = str(3 + (i + 1) % 2)
                self.measure("scale, wait", "aws CLI (2 commands)", [
                    self.aws("ecs", "update-service", "--cluster", cluster, "--service", service, "--desired-count", n),
                    self.aws("ecs", "wait", "services-stable", "--cluster", cluster, "--services", service),
                ])
            # Back to the configured count so destroy sees the stack as apply left it.
            self.run(self.agentctl("scale", "2", "--no-wait"))
            self.measure("destroy", "agentctl", [self.agentctl("destroy", "--yes", "--force-delete-secret")])

        self.validate_timing()
        # How much of a peer's time is its own start-up (no AWS call).
        for _ in range(a.repeat):
            self.measure("process start (--version)", "aws CLI", [[a.aws, "--version"]])
            self.measure("process start (--version)", "ecs-deploy", [[a.ecs_deploy, "--version"]])
            self.measure("process start (--version)", "agentctl", [self.agentctl("--version")])
        return levels, resources

    def aws_status(self, cluster, service):
        # The reference README's sequence: the service, its task list, the tasks.
        # moto never runs tasks, so list-tasks is empty; describe-tasks still goes
        # out (with a placeholder ARN) so the sequence makes its three round trips.
        task = f"arn:aws:ecs:us-east-1:123456789012:task/{cluster}/00000000000000000000000000000000"
        return [
            self.aws("ecs", "describe-services", "--cluster", cluster, "--services", service),
            self.aws("ecs", "list-tasks", "--cluster", cluster, "--service-name", service),
            self.aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", task),
        ]

    def aws_usage(self, cluster, service):
        """The reference README's right-sizing recipe (get-metric-statistics, hourly, 14 days), once
        per series usage reads: CPU, memory, running tasks, running pipelines."""
        end = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
        start = end - datetime.timedelta(days=14)
        dims = ["--dimensions", f"Name=ClusterName,Value={cluster}", f"Name=ServiceName,Value={service}"]
        window = ["--start-time", start.isoformat(), "--end-time", end.isoformat(), "--period", "3600"]
        series = [
            ("ECS/ContainerInsights", "CpuUtilized"),
            ("ECS/ContainerInsights", "MemoryUtilized"),
            ("ECS/ContainerInsights", "RunningTaskCount"),
            ("Matillion/Agent", "app_active_task_count"),
        ]
        return [
            self.aws("cloudwatch", "get-metric-statistics", "--namespace", ns, "--metric-name", name, *dims, *window,
                     "--statistics", "Average", "Maximum")
            for ns, name in series
        ]

    def validate_timing(self):
        """Process start + config validation, no AWS call: hyperfine if present, else a loop."""
        argv = self.agentctl("validate")
        if self.a.hyperfine:
            out = os.path.join(self.dir, "hyperfine.json")
            subprocess.run(
                [self.a.hyperfine, "-N", "--warmup", "5", "--runs", "100", "--export-json", out, " ".join(argv)],
                cwd=self.dir, env=self.env, check=True, capture_output=True,
            )
            r = json.load(open(out))["results"][0]
            times = r["times"]
            how = "hyperfine -N, 100 runs after 5 warm-up"
        else:
            times = []
            for _ in range(105):
                t0 = time.perf_counter()
                subprocess.run(argv, cwd=self.dir, env=self.env, check=True, capture_output=True)
                times.append(time.perf_counter() - t0)
            times = times[5:]
            how = "a loop of 100 runs after 5 warm-up"
        _, rss, _ = self.run(argv)
        self.validate = {
            "median_ms": statistics.median(times) * 1000,
            "min_ms": min(times) * 1000,
            "max_ms": max(times) * 1000,
            "mean_ms": statistics.mean(times) * 1000,
            "how": how,
            "rss_kb": rss,
        }
        print(f"  validate: median {self.validate['median_ms']:.2f} ms ({how}); {rss/1024:.1f} MiB", flush=True)


def med(samples, key):
    return statistics.median(s[key] for s in samples)


def report(b, levels, resources, meta):
    groups = {}
    for s in b.samples:
        groups.setdefault((s["op"], s["tool"]), []).append(s)
    rows = []
    for (op, tool), ss in groups.items():
        rows.append({
            "op": op, "tool": tool, "n": len(ss),
            "wall_ms": med(ss, "wall_s") * 1000,
            "requests": med(ss, "requests"),
            "waves": med(ss, "waves"),
            "rss_mib": max(s["rss_kb"] for s in ss) / 1024,
            "by_operation": ss[-1]["by_operation"],
        })
    lines = []
    lines.append(f"Measured {meta['date']} on {meta['machine']}.")
    lines.append("")
    lines.append("| operation | tool | runs | wall time (median) | requests | round-trip waves | peak RSS |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        lines.append(f"| {r['op']} | {r['tool']} | {r['n']} | {r['wall_ms']:.0f} ms | {r['requests']:g} | {r['waves']:g} | {r['rss_mib']:.1f} MiB |")
    v = b.validate
    lines.append(f"| validate (process start + config check, no AWS call) | agentctl | 100 | {v['median_ms']:.2f} ms | 0 | 0 | {v['rss_kb']/1024:.1f} MiB |")
    lines.append("")
    # Ratios: peer time / agentctl time for the same operation.
    pairs = [
        ("status", "aws CLI (3 commands)", "status", "agentctl"),
        ("usage (14 days)", "aws CLI (get-metric-statistics per metric)", "usage (14 days)", "agentctl"),
        ("redeploy new image", "ecs-deploy (no wait)", "redeploy new image", "agentctl --no-wait"),
        ("redeploy new image", "ecs-deploy (no wait)", "redeploy new image, wait", "agentctl"),
        ("redeploy same image", "aws CLI (1 command)", "redeploy same image", "agentctl --no-wait"),
        ("scale", "ecs-deploy (no wait)", "scale", "agentctl --no-wait"),
        ("scale, wait", "aws CLI (2 commands)", "scale, wait", "agentctl"),
    ]
    by = {(r["op"], r["tool"]): r for r in rows}
    lines.append("| comparison | peer | agentctl | agentctl is faster by |")
    lines.append("|---|---:|---:|---:|")
    ratios = []
    for pop, ptool, aop, atool in pairs:
        p, q = by.get((pop, ptool)), by.get((aop, atool))
        if p and q:
            ratio = p["wall_ms"] / q["wall_ms"]
            ratios.append({"peer": f"{pop} / {ptool}", "agentctl": f"{aop} / {atool}", "ratio": ratio})
            lines.append(f"| {ptool} `{pop}` vs agentctl `{aop}`{' (' + atool.split(' ', 1)[1] + ')' if ' ' in atool else ''} | {p['wall_ms']:.0f} ms | {q['wall_ms']:.0f} ms | {ratio:.1f}x |")
    lines.append("")
    lines.append(f"The full stack: {resources} resources in {levels} dependency levels.")
    lines.append("")
    lines.append("Requests per AWS operation (last run of each):")
    lines.append("")
    for r in rows:
        if r["by_operation"]:
            ops = ", ".join(f"{k} {v}" for k, v in sorted(r["by_operation"].items()))
            lines.append(f"- {r['op']} / {r['tool']}: {ops}")
    return "\n".join(lines) + "\n", rows, ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agentctl", required=True)
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--ecs-deploy", required=True)
    ap.add_argument("--time", default="/usr/bin/time")
    ap.add_argument("--hyperfine", default=shutil.which("hyperfine"))
    ap.add_argument("--latency-ms", type=float, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--out", required=True, help="folder for results.json and results.md")
    ap.add_argument("--meta", required=True, help="JSON file with machine and versions")
    a = ap.parse_args()
    b = Bench(a)
    levels, resources = b.go()
    meta = json.load(open(a.meta))
    meta["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md, rows, ratios = report(b, levels, resources, meta)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "latency_ms": a.latency_ms, "levels": levels, "resources": resources,
                   "validate": b.validate, "rows": rows, "ratios": ratios, "samples": b.samples}, f, indent=1)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print()
    print(md)


if __name__ == "__main__":
    main()
