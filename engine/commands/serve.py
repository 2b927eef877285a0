"""`spinemets serve`: the CDS Hooks service on uvicorn, on this machine only unless told otherwise."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from .terminal import EXIT_OK, rules_arg

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the CDS Hooks 2.0 service for an EHR (optional; needs spinemets[service])",
                       description="Serve CDS Hooks 2.0 (discovery, patient-view, order-select, order-sign, "
                                   "feedback). Listens on 127.0.0.1 unless --host says otherwise.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this "
                   "machine only; 0.0.0.0 for every interface, behind TLS and --issuers)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--issuers", metavar="FILE", help="trusted CDS clients (YAML/JSON: issuer -> jwks, jwks_file "
                   "or jwks_url); with it every hook call needs a JWT they signed (401 otherwise)")
    p.add_argument("--board-db", metavar="FILE", help="board log for card feedback (default: $SPINEMETS_BOARD_DB; "
                   "without one, feedback is not recorded)")
    p.add_argument("--app-url", default="http://localhost:8501",
                   help="the spinemets app's URL, linked from every card (default http://localhost:8501; '' for none)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="let a browser-based CDS client at ORIGIN (e.g. https://ehr.hospital.example) call the "
                        "service; repeat for several (default: none, no CORS headers)")
    rules_arg(p)
    p.set_defaults(run=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..service.app import Settings, create_app
        from ..service.auth import load_trust
    except ImportError as err:
        raise InputError(f"spinemets serve needs the service extra ({err.name} is missing): "
                         "pip install 'spinemets[service]'") from None
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: expected 0-65535")
    settings = Settings(rules=args.rules, trust=load_trust(args.issuers), app_url=args.app_url or None,
                        cors_origins=tuple(args.cors_origin))
    if args.board_db:
        settings.board_db = Path(args.board_db)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.trust.required:
        print("spinemets serve: listening beyond this machine without --issuers: any caller can use the service",
              file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                server_header=False)
    return EXIT_OK
