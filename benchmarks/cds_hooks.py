"""Throughput and latency of the CDS Hooks service: `patient-view` with prefetch, 50 concurrent clients.

    python benchmarks/cds_hooks.py              # 100 requests/s for 20 s, then as fast as it goes for 10 s
    python benchmarks/cds_hooks.py --quick      # 5 s each
    python benchmarks/cds_hooks.py --rate 150   # another target rate
    python benchmarks/cds_hooks.py --decide-workers 2   # one setting only

Starts `spinemets serve` (one uvicorn process) on a free loopback port, first deciding in its own process,
then with `--decide-workers` one worker process per core (`--decide-workers N` measures one setting only), and
sends each vignette's golden Bundle (tests/golden/fhir/) as a patient-view prefetch, cycling. Target (issue 16):
p99 <= 50 ms at 100 requests/s on 2 cores. Two phases:
- paced: 50 clients together send `--rate` requests per second on a fixed schedule; latency counts from the
  moment a request was due, so a server that falls behind is charged for the queue (no coordinated omission);
- flat out: 50 clients send back to back; requests per second is the service's ceiling on this machine.
The client is a minimal HTTP/1.1 keep-alive client on asyncio streams, so that it takes little of the CPU it
measures. Prints the load average before and after and the server's CPU time: other work on the machine
moves every figure. Asserts nothing. Talks to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "fhir"
PATH = "/cds-services/spinemets-patient-view"
CLIENTS = 50


def prefetch(bundle: dict[str, Any]) -> dict[str, Any]:
    """The prefetch a FHIR server would give for the Bundle's patient (as tests/cds_support.py builds it)."""
    bundle = copy.deepcopy(bundle)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    others = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    for resource in others:
        for key in ("subject", "patient"):
            if key in resource:
                resource[key] = {"reference": f"Patient/{patient['id']}"}

    def searchset(kind: str) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r, "search": {"mode": "match"}} for r in others if r["resourceType"] == kind]}
    return {"patient": patient, "conditions": searchset("Condition"), "observations": searchset("Observation"),
            "allergies": searchset("AllergyIntolerance"), "medicationRequests": searchset("MedicationRequest"),
            "medicationStatements": searchset("MedicationStatement")}


def requests() -> list[bytes]:
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                "context": {"userId": "Practitioner/bench", "patientId": "patient"},
                "prefetch": prefetch(json.loads(path.read_text()))}
        payload = json.dumps(body).encode()
        out.append(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read the status and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def call(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)


async def paced(port: int, bodies: list[bytes], rate: float, seconds: float) -> tuple[list[float], int, int]:
    """Every client sends its share of `rate` on a fixed schedule; latency is from due time to answer."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.5
    total = int(rate * seconds)

    async def client(k: int) -> None:
        nonlocal errors
        connection = await Connection.open(port)
        for i in range(k, total, CLIENTS):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status, body = await connection.call(bodies[i % len(bodies)])
            latencies.append((time.perf_counter() - due) * 1000)
            if status != 200 or b'"cards":[{' not in body:
                errors += 1
        connection.writer.close()
    await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    return latencies, errors, total


async def flat_out(port: int, bodies: list[bytes], seconds: float) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        connection = await Connection.open(port)
        i = k
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            status, body = await connection.call(bodies[i % len(bodies)])
            latencies.append((time.perf_counter() - sent) * 1000)
            errors += status != 200 or b'"cards":[{' not in body
            i += CLIENTS
        connection.writer.close()
    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    return latencies, errors, time.perf_counter() - began


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of the server's process, and of its worker processes (the deciding pool's) alive now."""
    def of(process: int) -> float:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return of(pid), sum(of(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(c) for c in children.read_text().split()]
    return found + [grandchild for child in found for grandchild in _children(child)]


def start_server(decide_workers: int) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "spinemets.commands.cli", "serve", "--port", str(port), "--log-level",
               "warning", "--app-url", "", "--decide-workers", str(decide_workers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "SPINEMETS_BOARD_DB": ""})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not start")


def measure(workers: int, bodies: list[bytes], rate: float, paced_seconds: float, flat_seconds: float) -> None:
    process, port = start_server(workers)
    try:
        asyncio.run(flat_out(port, bodies, 2.0))  # warm up: imports, first evaluations
        (server0, workers0) = cpu_seconds(process.pid)
        latencies, errors, total = asyncio.run(paced(port, bodies, rate, paced_seconds))
        (server1, workers1) = cpu_seconds(process.pid)
        cpu = server1 - server0 + workers1 - workers0
        print(f"paced    {rate:.0f} requests/s for {paced_seconds:.0f} s: {total} requests, {errors} errors; "
              f"p50 {pct(latencies, 0.5):.1f} ms, p90 {pct(latencies, 0.9):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, "
              f"max {max(latencies):.1f} ms; CPU {cpu / paced_seconds * 100:.0f}% of one core "
              f"({cpu / total * 1000:.1f} ms per request: server process {(server1 - server0) / total * 1000:.1f}, "
              f"deciding workers {(workers1 - workers0) / total * 1000:.1f})")
        verdict = "met" if pct(latencies, 0.99) <= 50 and rate >= 100 and not errors else "NOT MET"
        print(f"target p99 <= 50 ms at 100 requests/s: {verdict}")
        cpu0 = sum(cpu_seconds(process.pid))
        latencies, errors, elapsed = asyncio.run(flat_out(port, bodies, flat_seconds))
        cpu1 = sum(cpu_seconds(process.pid))
        print(f"flat out for {flat_seconds:.0f} s: {len(latencies) / elapsed:.0f} requests/s, {errors} errors; "
              f"p50 {statistics.median(latencies):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms; server CPU "
              f"{(cpu1 - cpu0) / elapsed * 100:.0f}% of one core")
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="paced requests per second (default 100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the paced phase (default 20)")
    parser.add_argument("--quick", action="store_true", help="5 s phases")
    parser.add_argument("--decide-workers", type=int, default=None, metavar="N",
                        help="only this many deciding workers (spinemets serve --decide-workers); default: "
                             "0 (in the server's process), then one per core")
    args = parser.parse_args()
    paced_seconds, flat_seconds = (5.0, 5.0) if args.quick else (args.seconds, 10.0)
    bodies = requests()
    print(f"CDS Hooks patient-view with prefetch: {len(bodies)} vignette Bundles, {CLIENTS} clients, "
          f"{os.cpu_count()} cores")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    counts = [args.decide_workers] if args.decide_workers is not None else [0, os.cpu_count() or 1]
    for workers in counts:
        print(f"--- decide workers: {workers} ({'in the server process' if not workers else 'processes beside it'})")
        measure(workers, bodies, args.rate, paced_seconds, flat_seconds)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
