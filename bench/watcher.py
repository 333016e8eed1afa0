"""Load process: one watch subscriber, an Informer on PersistentVolumeClaims that counts events.

Prints `{"ready": true}` once its informer has synced and its subscription is live, then,
when it has counted `--expect` adds and updates (or `--timeout` passed),
`{"count", "first", "last", "relists"}` with the wall-clock times of the first and last.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import child
from kstore.client.informer import Handler, Informer


def main() -> None:
    p = child.parser(__doc__.splitlines()[0])
    p.add_argument("--expect", type=int, required=True, help="events to wait for")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for them once ready")
    args = p.parse_args()

    async def body() -> None:
        client = await child.connect(args.cluster)
        informer = Informer(client, "PersistentVolumeClaim")
        count, first, last = 0, 0.0, 0.0
        done = asyncio.Event()

        def on_event(*_: Any) -> None:
            nonlocal count, first, last
            last = time.time()
            if not count:
                first = last
            count += 1
            if count >= args.expect:
                done.set()

        informer.add_handler(Handler(on_add=on_event, on_update=on_event))
        try:
            await informer.start()
            await informer.wait_synced(timeout=30)
            await child.wait_subscribed()
            child.emit(ready=True)
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except TimeoutError:
                pass
            child.emit(count=count, first=first, last=last, relists=informer.relists)
        finally:
            informer.stop()
            client.close()

    child.run(body)


if __name__ == "__main__":
    main()
