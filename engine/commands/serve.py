"""`spinemets serve`: the CDS Hooks service on uvicorn, on this machine only unless told otherwise."""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from .terminal import EXIT_OK, rules_arg

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
FHIR_SERVERS_ENV = "SPINEMETS_FHIR_SERVERS"


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the CDS Hooks 2.0 service for an EHR (optional; needs spinemets[service])",
                       description="Serve CDS Hooks 2.0 (discovery, patient-view, order-select, order-sign, "
                                   "feedback). Listens on 127.0.0.1 unless --host says otherwise.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this "
                   "machine only); any other address needs --issuers, and TLS in front")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--issuers", metavar="FILE", help="the service's configuration (YAML/JSON): audience (its base "
                   "URL), trusted CDS clients (issuer -> jwks, jwks_file or jwks_url), optional fhir_servers; with "
                   "it every hook call needs a JWT they signed (401 otherwise) and feedback is recorded")
    p.add_argument("--fhir-server", metavar="URL", action="append", default=[],
                   help=f"a FHIR base URL the service may fetch what was not prefetched from (repeatable; also "
                        f"${FHIR_SERVERS_ENV}, space-separated, and fhir_servers in --issuers). Default: none, "
                        "prefetch only")
    p.add_argument("--max-body", metavar="BYTES", type=int, default=1_000_000,
                   help="largest request body accepted (default 1000000; larger is 413)")
    p.add_argument("--fhir-max-bytes", metavar="BYTES", type=int, default=16_000_000,
                   help="bytes one hook call may read from the FHIR server, all pages together (default 16000000)")
    p.add_argument("--fhir-budget", metavar="SECONDS", type=float, default=10.0,
                   help="seconds one hook call may spend fetching from the FHIR server, in all (default 10)")
    p.add_argument("--board-db", metavar="FILE", help="board log for card feedback (default: $SPINEMETS_BOARD_DB; "
                   "without one, feedback is not recorded)")
    p.add_argument("--app-url", default="http://localhost:8501",
                   help="the spinemets app's URL, linked from every card (default http://localhost:8501; '' for none)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="let a browser-based CDS client at ORIGIN (e.g. https://ehr.hospital.example) call the "
                        "service; repeat for several (default: none, no CORS headers)")
    p.add_argument("--decide-workers", metavar="N", type=int, default=0,
                   help="read records and decide in N worker processes beside the server's, for a busy EHR on "
                        "several cores (default 0: in the server's own process); each loads the rule base once")
    rules_arg(p)
    p.set_defaults(run=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .extras import require

    require("spinemets serve", "service")
    import uvicorn

    from ..service.app import Settings, create_app
    from ..service.auth import ServiceFile, Trust, load_service_file
    from ..service.outbound import Limits

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: expected 0-65535")
    for flag, value in (("--max-body", args.max_body), ("--fhir-max-bytes", args.fhir_max_bytes),
                        ("--fhir-budget", args.fhir_budget)):
        if not value > 0:
            raise InputError(f"{flag} {value}: expected a number above 0")
    if not 0 <= args.decide_workers <= 64:
        raise InputError(f"--decide-workers {args.decide_workers}: expected 0-64")
    config = load_service_file(args.issuers) if args.issuers else ServiceFile(Trust())
    if not config.trust.required and not _loopback(args.host):
        # without issuers every caller is anonymous: only this machine's own processes may call
        raise InputError(f"--host {args.host}: listening beyond this machine needs --issuers (trusted CDS clients "
                         "and the service's audience); without them serve on 127.0.0.1")
    servers = (*args.fhir_server, *os.environ.get(FHIR_SERVERS_ENV, "").split(), *config.fhir_servers)
    settings = Settings(rules=args.rules, trust=config.trust, app_url=args.app_url or None, fhir_servers=servers,
                        max_body=args.max_body, cors_origins=tuple(args.cors_origin),
                        decide_workers=args.decide_workers, settle_memory=True,
                        limits=Limits(max_bytes=args.fhir_max_bytes, budget=args.fhir_budget))
    if args.board_db:
        settings.board_db = Path(args.board_db)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                server_header=False)
    return EXIT_OK


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
