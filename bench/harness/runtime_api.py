"""A minimal AWS Lambda Runtime API stand-in on 127.0.0.1, for measuring functions the way Lambda runs them.

It serves the four endpoints a runtime client uses (GET /2018-06-01/runtime/invocation/next, POST .../response,
.../error, /runtime/init/error), records when the first `next` arrives (the end of init: cold start), hands out the
events it is given one at a time, and times each invocation from the moment its event was written to the socket to
the moment the response arrived (what Lambda bills as duration, plus two loopback hops of a few tens of µs).

Standard library only; one thread per connection; TCP_NODELAY on every response so no write waits on a delayed ACK.
"""

import json
import queue
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class _Invocation:
    __slots__ = ("request_id", "payload", "sent_ns", "done_ns", "status", "body", "done")

    def __init__(self, payload: bytes):
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.sent_ns = None
        self.done_ns = None
        self.status = None
        self.body = None
        self.done = threading.Event()


class RuntimeAPI:
    def __init__(self, function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench"):
        self.function_arn = function_arn
        self._events = queue.Queue()
        self._inflight = {}
        self._lock = threading.Lock()
        self.first_connect_ns = None
        self.first_next_ns = None
        self.first_next = threading.Event()
        self.init_error = None
        self._closing = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _reply(self, code, body=b"", headers=None):
                head = [f"HTTP/1.1 {code} {'OK' if code < 300 else 'Error'}"]
                for k, v in (headers or {}).items():
                    head.append(f"{k}: {v}")
                head.append(f"Content-Length: {len(body)}")
                head.append("\r\n")
                # One write: headers and body together.
                self.wfile.write("\r\n".join(head).encode() + body)
                self.wfile.flush()

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorMessage": "not found"}')
                now = time.perf_counter_ns()
                if api.first_next_ns is None:
                    api.first_next_ns = now
                    api.first_next.set()
                while True:
                    try:
                        inv = api._events.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if api._closing:
                            # Lambda would freeze the process here; we just never answer and let it be killed.
                            return
                if inv is None:
                    return
                deadline = int(time.time() * 1000) + 900_000
                inv.sent_ns = time.perf_counter_ns()
                self._reply(200, inv.payload, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
                })

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                now = time.perf_counter_ns()
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts[:2] == ["init", "error"]:
                    api.init_error = body.decode(errors="replace")
                    api.first_next.set()
                    return self._reply(202, b'{"status": "OK"}')
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api._lock:
                        inv = api._inflight.pop(parts[1], None)
                    if inv is None:
                        return self._reply(400, b'{"errorMessage": "unknown request id"}')
                    inv.done_ns = now
                    inv.status = parts[2]
                    inv.body = body
                    inv.done.set()
                    return self._reply(202, b'{"status": "OK"}')
                return self._reply(404, b'{"errorMessage": "not found"}')

        class Server(ThreadingHTTPServer):
            def get_request(self):
                # The end of init, as Lambda sees it: the function connects to ask for its first event. Stamped
                # here, as the connection is accepted, and not in the handler: before the handler runs, Python
                # starts a thread and parses the request's headers, ~0.4 ms of the harness's own (measured with a
                # process that only connects and asks), which Lambda's Runtime API does not add.
                conn = super().get_request()
                if api.first_connect_ns is None:
                    api.first_connect_ns = time.perf_counter_ns()
                return conn

            def handle_error(self, request, client_address):
                # A function killed mid-request resets its connection: expected at the end of every run.
                if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def invoke(self, payload, timeout=120.0):
        """Hand one event to the function; returns (status, response body, duration in ns)."""
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        inv = _Invocation(payload)
        with self._lock:
            self._inflight[inv.request_id] = inv
        self._events.put(inv)
        if not inv.done.wait(timeout):
            raise TimeoutError(f"no response within {timeout} s")
        return inv.status, inv.body, inv.done_ns - inv.sent_ns

    def close(self):
        self._closing = True
        self._server.shutdown()
        self._server.server_close()
