"""Serve the workbench: ``workbench [--port 5006]`` (or ``python -m workbench``), then open the
printed address. Works from any directory: the demos and data ship inside the package."""
import argparse


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    parser.add_argument("--port", type=int, default=5006, help="port on 127.0.0.1 (default 5006)")
    args = parser.parse_args(argv)

    import panel as pn
    import torch

    from workbench.app import create_app

    torch.set_num_threads(1)  # the simulation thread and the server share a small machine
    print(f"Workbench: http://127.0.0.1:{args.port}/", flush=True)
    pn.serve({"/": create_app}, address="127.0.0.1", port=args.port, show=False, title="Workbench",
             websocket_origin=[f"127.0.0.1:{args.port}", f"localhost:{args.port}"])


if __name__ == "__main__":
    main()
