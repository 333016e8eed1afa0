"""The volume plugins' read access to API objects, in the kubelet (`ObjectGetter`).

- Claims and PersistentVolumes come from the kubelet's informers (cluster-wide for now: a
  kubelet of a real cluster watches only what its pods reference; here the PVC and PV topics
  are per kind, so every kubelet receives every claim and volume event).
- ConfigMaps, Secrets, Nodes and the rest are read from the store when a plugin asks, i.e.
  at each set_up (and each periodic remount), as Kubernetes' `Get` strategy does: a plugin
  runs on an executor thread, so the read goes through the event loop
  (`run_coroutine_threadsafe`) and the thread waits at most `timeout` seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Mapping
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.informer import Informer
from kstore.volume.mount import FAILED, TIMEOUT, MountError

Obj = Mapping[str, Any]
READ_TIMEOUT = 10.0


class KubeletObjects:
    def __init__(self, client: BusClient, loop: asyncio.AbstractEventLoop, *, claims: Informer, volumes: Informer,
                 timeout: float = READ_TIMEOUT) -> None:
        self._client = client
        self._loop = loop
        self._loop_thread = threading.get_ident()  # built on the loop's thread
        self._claims = claims
        self._volumes = volumes
        self._timeout = timeout

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        if kind == "PersistentVolumeClaim":
            return self._claims.get(f"{namespace}/{name}")
        if kind == "PersistentVolume":
            return self._volumes.get(name)
        what = f"{kind.lower()} {namespace + '/' if namespace else ''}{name}"
        if threading.get_ident() == self._loop_thread:
            raise MountError(FAILED, f"cannot read {what} on the event loop: plugin operations run on the executor")
        future = asyncio.run_coroutine_threadsafe(self._client.get(kind, namespace or None, name), self._loop)
        try:
            return future.result(self._timeout)
        except ApiError as e:
            if e.code == 404:
                return None
            raise MountError(FAILED, f"failed to get {what} from the API server: {e.message}") from e
        except concurrent.futures.TimeoutError as e:
            future.cancel()
            raise MountError(TIMEOUT, f"failed to get {what} from the API server: timed out after "
                                      f"{self._timeout:g}s") from e
