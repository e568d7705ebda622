"""Serve the workbench: ``workbench [--port 5006]`` (or ``python -m workbench``, or ``python app.py``
from a checkout), then open the printed address. Works from any directory: the demos and data
ship inside the package.

It listens on 127.0.0.1 only, unless ``--address`` names another interface; then it refuses to
start without ``--token`` (or $WORKBENCH_TOKEN: pages must be opened as ``/?token=...``) or
``--basic-auth`` (Panel's login page; a password, or a JSON file of user -> password).
"""
import argparse
import ipaddress
import os
import secrets
import sys


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    parser.add_argument("--address", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--token", default=os.environ.get("WORKBENCH_TOKEN"),
                        help="access token required in the page address (?token=...); 'random' makes one")
    parser.add_argument("--basic-auth", help="Panel's basic auth: a password, or a JSON file of user -> password")
    parser.add_argument("--allow-origin", action="append", default=None,
                        help="host:port the browser may connect from (repeatable; default: the address itself)")
    args = parser.parse_args(argv)
    if not is_loopback(args.address) and not (args.token or args.basic_auth):
        parser.error(f"listening on {args.address} lets other machines in: pass --token TOKEN (or 'random') "
                     "or --basic-auth PASSWORD")
    token = secrets.token_urlsafe(24) if args.token == "random" else args.token
    # imported here, not at the top: each tab's simulation process (spawn) re-imports the main
    # module and needs none of the server's packages
    import panel as pn
    import torch

    from workbench.app import DOCS, app_factory

    torch.set_num_threads(1)  # the simulation thread and the server share a small machine
    host = "127.0.0.1" if args.address in ("0.0.0.0", "::") else args.address
    origins = args.allow_origin or [f"{host}:{args.port}", f"localhost:{args.port}", f"127.0.0.1:{args.port}"]
    if args.address in ("0.0.0.0", "::") and not args.allow_origin:
        origins = ["*"]  # any interface: the token or password is what keeps others out
    print(f"Workbench: http://{host}:{args.port}/" + (f"?token={token}" if token else ""), flush=True)
    extra = {"basic_auth": args.basic_auth, "cookie_secret": secrets.token_hex(32)} if args.basic_auth else {}
    pn.serve({"/": app_factory(token)}, address=args.address, port=args.port, show=False, title="Workbench", liveness=True,
             websocket_origin=origins, static_dirs={"docs": str(DOCS)} if DOCS.is_dir() else {}, **extra)



if __name__ == "__main__":
    sys.exit(main())
