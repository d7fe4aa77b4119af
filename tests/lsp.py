"""A small Language Server Protocol client over stdio, enough to drive the Red Hat YAML
language server the way an editor does: open documents, read the diagnostics it publishes,
ask for hover and completion."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


class LanguageServer:
    def __init__(self, command: list[str], settings: dict[str, Any]) -> None:
        self.settings = settings
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self._id = 0
        self._replies: dict[int, queue.Queue[Any]] = {}
        self.diagnostics: dict[str, list[dict[str, Any]]] = {}
        self._published = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- wire ------------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(out.read(length))
            if "id" in message and "method" in message:  # a request from the server
                self._answer(message)
            elif "id" in message:
                self._replies.setdefault(message["id"], queue.Queue()).put(message)
            elif message.get("method") == "textDocument/publishDiagnostics":
                with self._published:
                    params = message["params"]
                    self.diagnostics[params["uri"]] = params["diagnostics"]
                    self._published.notify_all()

    def _answer(self, request: dict[str, Any]) -> None:
        result: Any = None
        if request["method"] == "workspace/configuration":
            result = [self.settings.get(item.get("section", ""), None)
                      for item in request["params"]["items"]]
        self._send({"id": request["id"], "result": result})

    def request(self, method: str, params: dict[str, Any], timeout: float = 30) -> Any:
        self._id += 1
        box = self._replies.setdefault(self._id, queue.Queue())
        self._send({"id": self._id, "method": method, "params": params})
        reply = box.get(timeout=timeout)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply.get("result")

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    # -- what an editor does ---------------------------------------------------------------

    def start(self, root: Path) -> None:
        self.request("initialize", {
            "processId": None, "rootUri": root.as_uri(),
            "capabilities": {"workspace": {"configuration": True},
                             "textDocument": {"hover": {"contentFormat": ["plaintext"]},
                                              "completion": {}}}})
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    def open(self, path: Path, timeout: float = 60) -> list[dict[str, Any]]:
        """Open a document and wait for its diagnostics (the server publishes them once it
        has the schema)."""
        uri = path.as_uri()
        with self._published:
            self.diagnostics.pop(uri, None)
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": path.read_text()}})
        deadline = time.monotonic() + timeout
        with self._published:
            while uri not in self.diagnostics:
                left = deadline - time.monotonic()
                assert left > 0, f"no diagnostics for {path.name}"
                self._published.wait(left)
            return self.diagnostics[uri]

    def hover(self, path: Path, line: int, character: int) -> Any:
        return self.request("textDocument/hover", {"textDocument": {"uri": path.as_uri()},
                                                   "position": {"line": line,
                                                                "character": character}})

    def completion(self, path: Path, line: int, character: int) -> list[dict[str, Any]]:
        result = self.request("textDocument/completion", {
            "textDocument": {"uri": path.as_uri()},
            "position": {"line": line, "character": character}})
        items = result.get("items", []) if isinstance(result, dict) else (result or [])
        return list(items)

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
