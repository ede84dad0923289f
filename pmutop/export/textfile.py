"""`--textfile DIR`: the exposition as DIR/pmutop.prom for node_exporter's textfile collector.

Each interval the file is written beside itself under a name the collector ignores (it reads only `*.prom`)
and renamed over the old one, so node_exporter never reads half a file.
"""

import os
from pathlib import Path

from prometheus_client.exposition import generate_latest

from pmutop.export.collector import ExpositionCollector
from pmutop.export.totals import Exposition

FILE_NAME = "pmutop.prom"


class TextfileWriter:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / FILE_NAME
        self._temporary = Path(directory) / f".{FILE_NAME}.{os.getpid()}.tmp"

    def check(self) -> str | None:
        """Why the directory cannot take the file, or None."""
        directory = self.path.parent
        if not directory.is_dir():
            return f"{directory} is not a directory"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"{directory} is not writable"
        return None

    def write(self, exposition: Exposition) -> None:
        # The textfile collector parses the Prometheus text format, not OpenMetrics.
        self._temporary.write_bytes(generate_latest(ExpositionCollector(exposition)))
        os.replace(self._temporary, self.path)

    def remove(self) -> None:
        """On exit: node_exporter would otherwise serve the last figures as if they were current."""
        for path in (self.path, self._temporary):
            path.unlink(missing_ok=True)
