"""scripts/bench's harness: cold start, per-event, burst, size and the Python baseline, measured the same way.

Standard library only (run with the system python3). scripts/bench builds everything first and passes the paths;
run `scripts/bench --help` for the options. Results go to a JSON file and, as Markdown tables, into
docs/benchmarks.md between the `<!-- bench:... -->` markers (or to stdout with --print).
"""

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_api import RuntimeAPI  # noqa: E402

FUNCTIONS = ["launch-finetune", "training-state", "publish-artifact"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---- process measurements ----------------------------------------------------------------------------------------

def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_seconds(pid, precise=False):
    """CPU seconds (user + system) a process has used so far.

    Default: /proc/PID/stat, which includes threads that have exited (the local stack runs a thread per request)
    but counts in 10 ms ticks: right for totals over many events. precise=True: the sum over the live threads of
    /proc/PID/task/*/schedstat, in ns: right for an init of a few milliseconds, when no thread has exited yet."""
    if not precise:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            return None
        fields = stat[stat.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def reap(p):
    """Kill a child and collect its rusage (peak RSS in KiB, CPU seconds)."""
    try:
        p.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    return ru


def pct(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(1, min(len(s), int(-(-p * len(s) // 100))))
    return s[k - 1]


def summary(xs):
    return {"n": len(xs), "median": statistics.median(xs) if xs else None, "p95": pct(xs, 95), "p99": pct(xs, 99),
            "mean": statistics.fmean(xs) if xs else None, "min": min(xs) if xs else None,
            "max": max(xs) if xs else None}


def lambda_env(root, name, extra=None):
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": tempfile.gettempdir(),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/28/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HUBTUNE_CONFIG": os.path.join(root, "examples/hubtune.toml"),
        "HUBTUNE_BUCKET": "acme-ml-datasets",
        "RUST_LOG": "info",
    }
    env.update(extra or {})
    return env


class Target:
    """Something to start as a Lambda function: a Rust bootstrap, or the Python baseline under awslambdaric."""

    def __init__(self, name, cmd, cwd, extra_env=None):
        self.name, self.cmd, self.cwd, self.extra_env = name, cmd, cwd, extra_env or {}


def start(target, root, api, log_file, extra=None):
    env = lambda_env(root, target.name, {**target.extra_env, **(extra or {}), "AWS_LAMBDA_RUNTIME_API": api.address})
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(target.cmd, cwd=target.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                         stderr=log_file)
    if not api.first_next.wait(60):
        reap(p)
        raise RuntimeError(f"{target.name} never asked for work (see {log_file.name})")
    if api.init_error:
        reap(p)
        raise RuntimeError(f"{target.name} failed its init: {api.init_error}")
    # Init ends when the function connects to ask for work; `parsed` is when the harness had read the request (the
    # stamp of runs before 2026-12-04 16:00, kept beside it so the figures stay comparable).
    return p, (api.first_connect_ns - t0) / 1e6, (api.first_next_ns - t0) / 1e6


def cold_start(target, root, runs, log_file):
    """Process start -> first GET /next, `runs` times after one discarded warm-up (page cache, .pyc files)."""
    ms, parsed, rss, cpu = [], [], [], []
    for i in range(runs + 1):
        api = RuntimeAPI()
        try:
            p, t, t_parsed = start(target, root, api, log_file)
            hwm = proc_status_kib(p.pid, "VmHWM")
            c = proc_cpu_seconds(p.pid, precise=True)
            reap(p)
        finally:
            api.close()
        if i:
            ms.append(t)
            parsed.append(t_parsed)
            rss.append(hwm / 1024)
            cpu.append(c * 1000)
    return {"ms": summary(ms), "ms_parsed": summary(parsed), "init_rss_mib": summary(rss),
            "init_cpu_ms": summary(cpu)}


def spawn_floor(runs=30):
    """What starting any process costs from this harness: /bin/true, start to exit."""
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        p = subprocess.Popen(["/bin/true"], stdin=subprocess.DEVNULL)
        p.wait()
        xs.append((time.perf_counter_ns() - t0) / 1e6)
    return summary(xs)


# ---- the local stack with datasets waiting (hubtune-bench stack) --------------------------------------------------

class StackRun:
    def __init__(self, bench_bin, root, datasets, workdir):
        os.makedirs(workdir, exist_ok=True)
        self.p = subprocess.Popen([bench_bin, "stack", "--datasets", str(datasets), "--dir", workdir], cwd=root,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(os.path.join(workdir, "stack.log"), "w"),
                                  env={**os.environ, "HUBTUNE_HOME": root})
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"hubtune-bench stack did not start (see {workdir}/stack.log)")
        self.info = json.loads(line)

    def calls(self):
        with urllib.request.urlopen(self.info["endpoint"] + "/_hubtune/calls", timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.p.stdin.close()
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def per_event(target, root, bench_bin, n, workdir, log_file):
    """n events, one dataset each, through the real function on a Runtime API stand-in against the local stack."""
    stack = StackRun(bench_bin, root, n, workdir)
    try:
        info = stack.info
        log(f"{target.name}: {n} datasets waiting ({info['upload_seconds']:.1f} s to upload); invoking")
        with open(info["events"], "rb") as f:
            events = [line.rstrip(b"\n") for line in f if line.strip()]
        api = RuntimeAPI()
        extra = {"AWS_ENDPOINT_URL": info["endpoint"], "HUBTUNE_CONFIG": info["routes"],
                 "HUBTUNE_BUCKET": info["bucket"], "RUST_LOG": "info"}
        try:
            p, cold, _ = start(target, root, api, log_file, extra)
            init_cpu = proc_cpu_seconds(p.pid, precise=True)
            init_cpu_ticks = proc_cpu_seconds(p.pid)
            init_hwm = proc_status_kib(p.pid, "VmHWM")
            stack_cpu0 = proc_cpu_seconds(info["stack_pid"]) if info.get("stack_pid") else None
            durations, failures = [], 0
            t0 = time.perf_counter()
            for e in events:
                status, body, ns = api.invoke(e)
                durations.append(ns / 1e6)
                if status != "response" or json.loads(body or b"{}").get("batchItemFailures"):
                    failures += 1
            wall = time.perf_counter() - t0
            end_cpu = proc_cpu_seconds(p.pid)
            hwm = proc_status_kib(p.pid, "VmHWM")
            rss_now = proc_status_kib(p.pid, "VmRSS")
            stack_cpu1 = proc_cpu_seconds(info["stack_pid"]) if info.get("stack_pid") else None
            reap(p)
        finally:
            api.close()
        calls = stack.calls()
    finally:
        stack.stop()
    aws_calls = {k: v for k, v in calls.items() if not k.startswith("sqs.")}
    total_calls = sum(aws_calls.values())
    warm = durations[1:]
    cpu_events = end_cpu - init_cpu_ticks
    stack_cpu = (stack_cpu1 - stack_cpu0) if stack_cpu0 is not None else None
    return {
        "events": len(events), "failures": failures, "cold_start_ms": cold,
        "first_event_ms": durations[0], "warm_ms": summary(warm), "all_ms": summary(durations),
        "wall_seconds": wall,
        "cpu_ms_per_event": cpu_events * 1000 / len(events),
        "init_cpu_ms": init_cpu * 1000,
        "init_rss_mib": init_hwm / 1024, "peak_rss_mib": hwm / 1024, "rss_end_mib": rss_now / 1024,
        "aws_calls": aws_calls, "aws_calls_per_event": total_calls / len(events),
        "stack_cpu_ms_per_event": stack_cpu * 1000 / len(events) if stack_cpu is not None else None,
        "stack_cpu_ms_per_call": stack_cpu * 1000 / total_calls if stack_cpu is not None and total_calls else None,
    }


# ---- Python imports (the SDK route) -------------------------------------------------------------------------------

PY_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tempfile.gettempdir(),
          "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
          "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}


def python_import(python, statement, runs, env=None):
    """Interpreter start + `statement`, to exit: wall ms, and the peak RSS (VmHWM) the process reports at its end.
    (wait4's ru_maxrss would not do: it keeps the forked harness's own RSS from before exec.)"""
    probe = (f"{statement}\nimport sys\n"
             "sys.stderr.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    ms, rss = [], []
    for i in range(runs + 1):
        t0 = time.perf_counter_ns()
        # A Lambda-like environment: region and credentials set, no instance metadata (the SageMaker SDK looks
        # for a region at import and would otherwise try 169.254.169.254).
        p = subprocess.run([python, "-c", probe], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, env={**PY_ENV, **(env or {})})
        t = (time.perf_counter_ns() - t0) / 1e6
        if p.returncode != 0:
            raise RuntimeError(f"{python} -c {statement!r} failed: {p.stderr[-2000:]}")
        if i:
            ms.append(t)
            rss.append(int(p.stderr.strip().splitlines()[-1].split()[1]) / 1024)
    return {"ms": summary(ms), "rss_mib": summary(rss)}


def baseline_zip(python, root, work):
    """The baseline as a deployment zip that brings its pinned boto3 (what a Lambda that pins its SDK ships; the
    managed runtime's own boto3 would make it a few KiB, at the cost of an unpinned SDK)."""
    import zipfile
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    keep = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
    path = os.path.join(work, "baseline.zip")
    raw = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(os.path.join(root, "bench/baseline/handler.py"), "handler.py")
        for entry in sorted(os.listdir(site)):
            if not entry.startswith(keep) or entry.endswith(".dist-info"):
                continue
            full = os.path.join(site, entry)
            files = [full] if os.path.isfile(full) else [
                os.path.join(d, f) for d, _, fs in os.walk(full) for f in fs if "__pycache__" not in d]
            for f in files:
                zf.write(f, os.path.relpath(f, site))
                raw += os.path.getsize(f)
    return {"zip_bytes": os.path.getsize(path), "bootstrap_bytes": raw}


# ---- the machine --------------------------------------------------------------------------------------------------

def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem, 1), "kernel": platform.release(),
            "arch": platform.machine(), "python": platform.python_version(), "rustc": rustc,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# ---- Markdown -----------------------------------------------------------------------------------------------------

def f1(x):
    return "–" if x is None else f"{x:.1f}"


def f2(x):
    return "–" if x is None else f"{x:.2f}"


def ratio(a, b):
    if a is None or b is None or a == 0:
        return "–"
    r = b / a
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def render(r):
    m = r["machine"]
    out = []
    out.append(f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']} "
               f"{m['arch']}; {m['rustc']}; Python {m.get('baseline_python', m['python'])}. "
               f"Release profile opt-level `{r.get('opt_level', 's')}`.")
    out.append("")
    cs = r.get("cold_start", {})
    base = cs.get("baseline")
    if cs:
        out.append(f"**Cold start** (process start → the function connects for its first "
                   f"`GET /runtime/invocation/next`, config loaded and clients built; {cs.get('runs')} runs after one "
                   f"warm-up; spawning `/bin/true` from the harness takes {f2(cs['spawn_floor']['median'])} ms of each "
                   f"number; *parsed*: the same start stamped once the harness had read the request, as runs before "
                   f"2026-12-04 16:00 were):")
        out.append("")
        out.append("| function | median ms | p95 ms | parsed median ms | RSS at init MiB | baseline median ms | "
                   "baseline p95 ms | baseline parsed median ms | baseline RSS MiB | faster to start | parsed ratio |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for fn in FUNCTIONS:
            c = cs.get(fn)
            if not c:
                continue
            cp, bp = c.get("ms_parsed", c["ms"]), (base.get("ms_parsed", base["ms"]) if base else None)
            out.append(f"| {fn} | {f1(c['ms']['median'])} | {f1(c['ms']['p95'])} | {f1(cp['median'])} "
                       f"| {f1(c['init_rss_mib']['median'])} "
                       f"| {f1(base['ms']['median']) if base else '–'} | {f1(base['ms']['p95']) if base else '–'} | "
                       f"{f1(bp['median']) if base else '–'} | "
                       f"{f1(base['init_rss_mib']['median']) if base else '–'} | "
                       f"{ratio(c['ms']['median'], base['ms']['median']) if base else '–'} | "
                       f"{ratio(cp['median'], bp['median']) if base else '–'} |")
        out.append("")
    pe = r.get("per_event", {})
    h, b = pe.get("launch-finetune"), pe.get("baseline")
    if h:
        out.append(f"**Per event** (launch-finetune, {h['events']} events of one dataset each, sequential, against the "
                   f"local stack; duration = event written → response received):")
        out.append("")
        out.append("| | hubtune | Python baseline | ratio |")
        out.append("|---|---:|---:|---:|")

        def row(label, key, fmt=f2, sub=None):
            hv = h[key][sub] if sub else h[key]
            bv = (b[key][sub] if sub else b[key]) if b else None
            out.append(f"| {label} | {fmt(hv)} | {fmt(bv) if b else '–'} | {ratio(hv, bv) if b else '–'} |")

        row("first event ms (new connections, hub document)", "first_event_ms")
        row("handler duration median ms", "warm_ms", sub="median")
        row("handler duration p95 ms", "warm_ms", sub="p95")
        row("CPU per event ms (the function's process: own work + SDK + HTTP)", "cpu_ms_per_event")
        row("init CPU ms", "init_cpu_ms")
        row("peak RSS over the run MiB", "peak_rss_mib", f1)
        row("RSS at init MiB", "init_rss_mib", f1)
        out.append(f"| AWS calls per event | {f2(h['aws_calls_per_event'])} | "
                   f"{f2(b['aws_calls_per_event']) if b else '–'} | |")
        out.append(f"| local stack CPU per event ms (moto + stand-in, Python) | {f2(h['stack_cpu_ms_per_event'])} | "
                   f"{f2(b['stack_cpu_ms_per_event']) if b else '–'} | |")
        out.append(f"| failed events | {h['failures']} | {b['failures'] if b else '–'} | |")
        out.append("")
        same = b is not None and b["aws_calls"] == h["aws_calls"]
        out.append(f"AWS calls over the {h['events']} events (hubtune"
                   + ("; the baseline's are the same, operation by operation" if same else "") + "): " + ", ".join(
                       f"`{k}` {v}" for k, v in sorted(h["aws_calls"].items())) + ".")
        out.append("")
    pure = r.get("pure")
    if pure:
        l1, l1000 = pure["launch"]["slots_1"], pure["launch"]["slots_1000"]
        out.append(f"**hubtune's own work per launch** (the real handler in process over in-memory AWS, no network, "
                   f"release build, {pure['iterations']} iterations): "
                   f"median {f1(l1['median'])} µs, p95 {f1(l1['p95'])} µs; with 999 jobs already in the route's slot "
                   f"object, median {f1(l1000['median'])} µs, p95 {f1(l1000['p95'])} µs. Once per cold start: routes "
                   f"file {f1(pure['config_parse']['median'])} µs; once per hub-cache miss: hub document "
                   f"{f1(pure['hub_document_parse']['median'])} µs.")
        out.append("")
    bu = r.get("burst")
    if bu:
        out.append(f"**Burst** ({bu['datasets']} datasets dropped at once, then launch-finetune's handler draining the "
                   f"queue with {bu['concurrency']} concurrent pollers):")
        out.append("")
        out.append("| | |")
        out.append("|---|---:|")
        out.append(f"| upload of {bu['datasets']} datasets (2 objects each) | {f1(bu['upload_seconds'])} s |")
        out.append(f"| launch of all of them | {f1(bu['launch_seconds'])} s |")
        out.append(f"| datasets per second | {f1(bu['datasets_per_second'])} |")
        out.append(f"| jobs / distinct / run records / queue entries | {bu['jobs']} / {bu['distinct_jobs']} / "
                   f"{bu['run_records']} / {bu['queue_entries']} ({'ok' if bu['ok'] else 'NOT OK'}) |")
        out.append(f"| records returned to the queue (CAS contention, retried) | {bu['redelivered_records']} |")
        out.append(f"| hubtune's AWS calls per dataset | {f2(bu['hubtune_calls_per_dataset'])} |")
        if bu.get("stack_cpu_seconds") is not None:
            total = bu["stack_cpu_seconds"] + bu["hubtune_cpu_seconds"]
            out.append(f"| CPU: local stack (Python) / hubtune process | {f1(bu['stack_cpu_seconds'])} s / "
                       f"{f1(bu['hubtune_cpu_seconds'])} s ({100 * bu['stack_cpu_seconds'] / total:.0f}% the stack's) |")
        out.append("")
    sz = r.get("sizes")
    if sz:
        out.append("**Size** (arm64 zip from `scripts/package`; the baseline zipped with its pinned boto3):")
        out.append("")
        out.append("| function | zip MiB | unzipped MiB |")
        out.append("|---|---:|---:|")
        for fn in FUNCTIONS + ["baseline"]:
            if fn in sz:
                out.append(f"| {fn} | {sz[fn]['zip_bytes'] / 1048576:.2f} | {sz[fn]['bootstrap_bytes'] / 1048576:.2f} |")
        out.append("")
    py = r.get("python_imports")
    if py:
        out.append("**Python imports** (interpreter start + import, to exit):")
        out.append("")
        out.append("| | median ms | p95 ms | peak RSS MiB |")
        out.append("|---|---:|---:|---:|")
        for k, v in py.items():
            out.append(f"| `{k}` | {f1(v['ms']['median'])} | {f1(v['ms']['p95'])} | {f1(v['rss_mib']['median'])} |")
        out.append("")
    return "\n".join(out)


def render_opt(rows):
    out = ["| opt-level | launch-finetune zip MiB | training-state zip MiB | publish-artifact zip MiB | "
           "cold start median ms (3 functions) | cold start p95 ms | RSS at init MiB | launch CPU per event ms | "
           "launch handler median ms |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lvl, r in rows.items():
        sz = r.get("sizes", {})
        cs = r.get("cold_start", {})
        meds = [cs[f]["ms"]["median"] for f in FUNCTIONS if f in cs]
        p95s = [cs[f]["ms"]["p95"] for f in FUNCTIONS if f in cs]
        rss = [cs[f]["init_rss_mib"]["median"] for f in FUNCTIONS if f in cs]
        pe = r.get("per_event", {}).get("launch-finetune")
        out.append(f"| `{lvl}` | " + " | ".join(f"{sz[f]['zip_bytes'] / 1048576:.2f}" if f in sz else "–"
                                                for f in FUNCTIONS)
                   + f" | {' / '.join(f1(x) for x in meds)} | {' / '.join(f1(x) for x in p95s)} | "
                     f"{' / '.join(f1(x) for x in rss)} | {f2(pe['cpu_ms_per_event']) if pe else '–'} | "
                     f"{f2(pe['warm_ms']['median']) if pe else '–'} |")
    return "\n".join(out)


def write_block(docs, name, text):
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    try:
        with open(docs) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = ""
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(docs, "w") as f:
            f.write(f"{head}{begin}\n{text}\n{end}{tail}")
        log(f"wrote the {name} tables into {docs}")
    else:
        log(f"{docs} has no {begin} … {end} markers; paste this:")
        print(text)


# ---- main ---------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root")
    ap.add_argument("--bin-dir", help="the native release bootstraps")
    ap.add_argument("--bench-bin")
    ap.add_argument("--lambda-dir", help="cargo-lambda's output (arm64 zips)")
    ap.add_argument("--baseline-python")
    ap.add_argument("--sdk-python")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--burst", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=20000)
    ap.add_argument("--only", default="cold,events,pure,burst,size,imports")
    ap.add_argument("--opt-level", default="s")
    ap.add_argument("--out")
    ap.add_argument("--docs")
    ap.add_argument("--block", default="results")
    ap.add_argument("--render-opt", nargs="+", metavar="RESULTS_JSON",
                    help="only render the opt-level table from these results files")
    ap.add_argument("--rerender", action="store_true", help="only render the tables again from --out")
    args = ap.parse_args()
    if args.render_opt:
        rows = {}
        for path in args.render_opt:
            with open(path) as f:
                r = json.load(f)
            rows[r["opt_level"]] = r
        m = next(iter(rows.values()))["machine"]
        text = (f"Measured {m['date']} on {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux "
                f"{m['kernel']}; {m['rustc']}.\n\n" + render_opt(rows))
        if args.docs:
            write_block(args.docs, "opt-levels", text)
        else:
            print(text)
        return
    if args.rerender:
        with open(args.out) as f:
            text = render(json.load(f))
        if args.docs:
            write_block(args.docs, args.block, text)
        else:
            print(text)
        return
    if not (args.root and args.bin_dir and args.bench_bin and args.out):
        ap.error("--root, --bin-dir, --bench-bin and --out are required")
    only = set(args.only.split(","))
    root = os.path.abspath(args.root)
    for a in ("bin_dir", "bench_bin", "lambda_dir", "baseline_python", "sdk_python", "out", "docs"):
        if getattr(args, a):
            setattr(args, a, os.path.abspath(getattr(args, a)))
    work = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(work, exist_ok=True)
    log_file = open(os.path.join(work, f"functions-{args.block}.log"), "w")

    targets = {fn: Target(fn, [os.path.join(args.bin_dir, fn)], root) for fn in FUNCTIONS}
    baseline = None
    if args.baseline_python:
        baseline = Target("baseline", [args.baseline_python, "-m", "awslambdaric", "handler.handler"],
                          os.path.join(root, "bench/baseline"),
                          {"PYTHONPYCACHEPREFIX": os.path.join(work, "pycache"), "_HANDLER": "handler.handler",
                           "LAMBDA_TASK_ROOT": os.path.join(root, "bench/baseline")})

    results = {"machine": machine(), "opt_level": args.opt_level}
    if baseline:
        results["machine"]["baseline_python"] = subprocess.run(
            [args.baseline_python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True).stdout.strip()
    t_all = time.perf_counter()

    if "cold" in only:
        cs = {"runs": args.runs, "spawn_floor": spawn_floor()}
        for fn, t in targets.items():
            log(f"cold start: {fn} × {args.runs}")
            cs[fn] = cold_start(t, root, args.runs, log_file)
            log(f"  median {cs[fn]['ms']['median']:.1f} ms, p95 {cs[fn]['ms']['p95']:.1f} ms")
        if baseline:
            log(f"cold start: Python baseline × {args.runs}")
            cs["baseline"] = cold_start(baseline, root, args.runs, log_file)
            log(f"  median {cs['baseline']['ms']['median']:.1f} ms, p95 {cs['baseline']['ms']['p95']:.1f} ms")
        results["cold_start"] = cs

    if "events" in only:
        pe = {}
        log(f"per event: launch-finetune × {args.events}")
        pe["launch-finetune"] = per_event(targets["launch-finetune"], root, args.bench_bin, args.events,
                                          os.path.join(work, f"events-hubtune-{args.block}"), log_file)
        log(f"  median {pe['launch-finetune']['warm_ms']['median']:.2f} ms, "
            f"CPU {pe['launch-finetune']['cpu_ms_per_event']:.2f} ms/event")
        if baseline:
            log(f"per event: Python baseline × {args.events}")
            pe["baseline"] = per_event(baseline, root, args.bench_bin, args.events,
                                       os.path.join(work, f"events-baseline-{args.block}"), log_file)
            log(f"  median {pe['baseline']['warm_ms']['median']:.2f} ms, "
                f"CPU {pe['baseline']['cpu_ms_per_event']:.2f} ms/event")
        results["per_event"] = pe

    if "pure" in only:
        log(f"pure path × {args.iterations}")
        out = subprocess.run([args.bench_bin, "pure", "--iterations", str(args.iterations)], cwd=root, check=True,
                             capture_output=True, text=True, env={**os.environ, "HUBTUNE_HOME": root})
        results["pure"] = json.loads(out.stdout.strip().splitlines()[-1])
        log(f"  median {results['pure']['launch']['slots_1']['median']:.1f} µs")

    if "burst" in only:
        log(f"burst: {args.burst} datasets, {args.concurrency} pollers")
        out = subprocess.run([args.bench_bin, "burst", "--datasets", str(args.burst), "--concurrency",
                              str(args.concurrency)], cwd=root, check=True, stdout=subprocess.PIPE,
                             stderr=open(os.path.join(work, f"burst-{args.block}.log"), "w"), text=True,
                             env={**os.environ, "HUBTUNE_HOME": root})
        results["burst"] = json.loads(out.stdout.strip().splitlines()[-1])
        log(f"  {results['burst']['datasets_per_second']:.1f} datasets/s, ok={results['burst']['ok']}")

    if "size" in only and args.lambda_dir:
        sizes = {}
        for fn in FUNCTIONS:
            z = os.path.join(args.lambda_dir, fn, "bootstrap.zip")
            if os.path.exists(z):
                import zipfile
                with zipfile.ZipFile(z) as zf:
                    raw = sum(i.file_size for i in zf.infolist())
                sizes[fn] = {"zip_bytes": os.path.getsize(z), "bootstrap_bytes": raw}
        if args.baseline_python:
            sizes["baseline"] = baseline_zip(args.baseline_python, root, work)
        results["sizes"] = sizes

    if "imports" in only:
        py = {}
        if args.baseline_python:
            log("python imports: baseline interpreter")
            py["python -c pass"] = python_import(args.baseline_python, "pass", 10)
            py["import boto3"] = python_import(args.baseline_python, "import boto3", 10)
            py["import boto3; 3 clients"] = python_import(
                args.baseline_python,
                "import boto3; [boto3.client(s) for s in ('s3', 'sagemaker', 'events')]", 10)
        if args.sdk_python:
            log("python imports: the SageMaker Python SDK")
            py["import sagemaker (2.245)"] = python_import(args.sdk_python, "import sagemaker", 5)
            py["from sagemaker.jumpstart.estimator import JumpStartEstimator"] = python_import(
                args.sdk_python, "from sagemaker.jumpstart.estimator import JumpStartEstimator", 5)
        results["python_imports"] = py

    results["seconds"] = time.perf_counter() - t_all
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    log(f"results in {args.out} ({results['seconds']:.0f} s of measuring)")
    text = render(results)
    if args.docs:
        write_block(args.docs, args.block, text)
    else:
        print(text)


if __name__ == "__main__":
    main()
