"""Serve the workbench: ``python app.py [--port 5006]``, then open the printed address."""
import argparse


def main() -> None:
    # imported here, not at the top: each session's simulation process (spawn) re-imports this
    # file and needs none of the server's packages
    import panel as pn
    import torch

    from workbench.app import create_app

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5006, help="port on 127.0.0.1 (default 5006)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the server shares a small machine with the simulation processes
    print(f"Workbench: http://127.0.0.1:{args.port}/", flush=True)
    pn.serve({"/": create_app}, address="127.0.0.1", port=args.port, show=False, title="Workbench", liveness=True,
             websocket_origin=[f"127.0.0.1:{args.port}", f"localhost:{args.port}"])


if __name__ == "__main__":
    main()
