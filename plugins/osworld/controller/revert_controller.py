#!/usr/bin/env python3
"""The revert controller the osworld adapter's `revert_url` talks to: one HTTP route,
POST /revert with {"task_id": ..., "snapshot": ..., "server": ...}, that puts the VM
back into a pristine state by running a command you give, and answers 200 when it has finished
(500 with the command's output when it failed). The adapter then waits for the VM's
own server to answer before it runs the task's setup.

The command runs through the shell with TASK_ID, SNAPSHOT, SERVER (the VM server's
URL, e.g. http://127.0.0.1:5003) and SERVER_PORT (5003) in its environment, so one
controller serves a whole pool of VMs (`servers = [...]`), e.g.

  # OSWorld's Docker provider: a fresh container from the image
  revert_controller.py --command 'docker rm -f osworld; docker run -d --name osworld ...'
  # VMware / VirtualBox: revert to the snapshot OSWorld's providers use
  revert_controller.py --command 'vmrun revertToSnapshot /vms/Ubuntu.vmx init_state && vmrun start /vms/Ubuntu.vmx nogui'
  revert_controller.py --command 'VBoxManage snapshot Ubuntu restore init_state && VBoxManage startvm Ubuntu --type headless'

  # a pool from scripts/osworld-fleet.sh: the container whose port the server has
  revert_controller.py --command 'docker restart osworld-$SERVER_PORT'

Reverts of one server are served one at a time (a second request for it waits for
the first); different servers revert in parallel. Standard
library only. Grant the controller's host:port to the plugin (`[env.grants] http`).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCKS = {}
LOCKS_GUARD = threading.Lock()


def server_lock(server):
    """The lock of one server's reverts."""
    with LOCKS_GUARD:
        return LOCKS.setdefault(server, threading.Lock())


def make_handler(command, timeout):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            """The request body, sent with a length or in chunks (as the adapter's
            WASI HTTP client sends it)."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self):
            if self.path == "/revert":
                self.answer(405, {"error": "POST only"})
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self):
            if self.path != "/revert":
                self.answer(404, {"error": "not found"})
                return
            try:
                body = json.loads(self.body() or b"null")
                task_id = str(body["task_id"])
                snapshot = body.get("snapshot") or ""
                server = str(body.get("server") or "")
            except (ValueError, TypeError, KeyError, AttributeError):
                self.answer(400, {"error": "a JSON body with task_id is required"})
                return
            port = server.rstrip("/").rpartition(":")[2] if server else ""
            env = dict(os.environ, TASK_ID=task_id, SNAPSHOT=str(snapshot),
                       SERVER=server, SERVER_PORT=port if port.isdigit() else "")
            with server_lock(server):
                started = time.monotonic()
                try:
                    done = subprocess.run(
                        command, shell=True, env=env, capture_output=True,
                        text=True, timeout=timeout,
                    )
                except subprocess.TimeoutExpired:
                    self.answer(500, {"error": f"the revert command ran past {timeout} s"})
                    return
                took = time.monotonic() - started
            if done.returncode != 0:
                tail = (done.stdout + done.stderr)[-2000:]
                self.answer(500, {"error": f"the revert command exited {done.returncode}",
                                  "output": tail})
            else:
                self.answer(200, {"reverted": True, "seconds": round(took, 3)})

        def log_message(self, fmt, *args):
            sys.stderr.write("revert_controller: " + (fmt % args) + "\n")

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--command", required=True,
                   help="shell command that restores the VM (TASK_ID and SNAPSHOT are set)")
    p.add_argument("--bind", default="127.0.0.1:7000", help="HOST:PORT to listen on")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds the command may run")
    a = p.parse_args()
    host, _, port = a.bind.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(a.command, a.timeout))
    print(f"revert_controller: listening on http://{host}:{server.server_port}/revert",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
