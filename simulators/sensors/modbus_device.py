"""A simulated Modbus field device: a river-level gauge with a tipping-bucket rain counter.

It is a real Modbus server (pymodbus) on 127.0.0.1, speaking Modbus TCP, or RTU
framing over TCP (as behind a serial-to-Ethernet converter), so the edge's
Modbus driver is tested against the protocol and not a stand-in. Register map
(device id 1; any id is answered):

============  =======  =========  ===============================================
table         address  type       value
============  =======  =========  ===============================================
holding       0        int16      water level, centimetres above the gauge datum
holding       10-11    float32    water level, metres (big-endian word order)
input         0-1      uint32     rain-gauge tips since power-on (0.2 mm a tip)
input         2        int16      air temperature, tenths of a degree C
============  =======  =========  ===============================================

Values are set with :meth:`ModbusDevice.set_water_level` / :meth:`add_rain` (tests),
or follow a shipped sensor scenario in compressed time with :meth:`ModbusDevice.play`
(demos, the install guide's bench test). Registers are refreshed from this state on
every request. Run one by hand::

    python -m simulators.sensors.modbus_device --port 5020 --play flood-2025-11-03
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import struct
import threading
import time
from typing import Any

from ioc.broker import free_port, wait_for_port

logger = logging.getLogger(__name__)

TIP_MM = 0.2
HOLDING_SIZE = 20
INPUT_SIZE = 10


class ModbusDevice:
    """The simulated device; ``start()`` serves it, ``stop()`` takes it off the line
    (the port can be served again by another ``start()``)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None,
                 framer: str = "socket") -> None:
        if framer not in ("socket", "rtu"):
            raise ValueError(f"framer must be socket or rtu, got {framer!r}")
        self.host = host
        self.port = port or 0
        self.framer = framer
        self.water_level_m = 0.0
        self.temperature_c = 25.0
        self.tips = 0
        self._rain_remainder_mm = 0.0
        self.requests = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._player: threading.Thread | None = None
        self._playing = threading.Event()

    # --- state -----------------------------------------------------------------------

    def set_water_level(self, metres: float) -> None:
        """The level the gauge reads from now on."""
        with self._lock:
            self.water_level_m = metres

    def add_rain(self, mm: float) -> int:
        """Rain into the bucket: whole tips of 0.2 mm are counted; returns the tip count."""
        with self._lock:
            total = self._rain_remainder_mm + mm
            new_tips = int(total / TIP_MM + 1e-9)
            self._rain_remainder_mm = total - new_tips * TIP_MM
            self.tips = (self.tips + new_tips) & 0xFFFFFFFF
            return self.tips

    def registers(self) -> tuple[list[int], list[int]]:
        """(holding, input) register values for the current state."""
        with self._lock:
            level, tips, temp = self.water_level_m, self.tips, self.temperature_c
        holding = [0] * HOLDING_SIZE
        holding[0] = round(level * 100) & 0xFFFF
        hi, lo = struct.unpack(">HH", struct.pack(">f", level))
        holding[10], holding[11] = hi, lo
        inputs = [0] * INPUT_SIZE
        inputs[0], inputs[1] = tips >> 16, tips & 0xFFFF
        inputs[2] = round(temp * 10) & 0xFFFF
        return holding, inputs

    async def _refresh(self, func_code: int, start: int, _address: int, _count: int,
                       registers: list[int], _values: Any) -> None:
        """pymodbus calls this before answering: copy the state into the block asked."""
        self.requests += 1
        holding, inputs = self.registers()
        source = holding if func_code in (3, 6, 16, 22, 23) else inputs
        for i in range(min(len(registers), len(source))):  # in place: pymodbus keeps the list
            registers[i] = source[i]

    # --- serving ---------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        """Serve the device on ``host:port`` (a free port when none was given)."""
        from pymodbus import FramerType
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        if not self.port:
            self.port = free_port(self.host)
        device = SimDevice(id=0, action=self._refresh, simdata=(
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0, count=HOLDING_SIZE, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=INPUT_SIZE, values=0, datatype=DataType.REGISTERS)],
        ))
        framer = FramerType.SOCKET if self.framer == "socket" else FramerType.RTU
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            self._server = ModbusTcpServer(device, address=(self.host, self.port),
                                           framer=framer)
            ready.set()
            await self._server.serve_forever()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            finally:
                ready.set()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="modbus-device", daemon=True)
        self._thread.start()
        if not (ready.wait(timeout_s) and wait_for_port(self.host, self.port, timeout_s)):
            raise RuntimeError(f"modbus device did not start on {self.host}:{self.port}")
        logger.info("modbus device (%s framing) on %s:%s", self.framer, self.host, self.port)

    def stop(self) -> None:
        """Take the device off the line: close the server and every connection."""
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None:
            return
        asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(10)
        if thread is not None:
            thread.join(10)
        loop.close()
        self._loop = self._server = self._thread = None

    # --- playing a scenario ----------------------------------------------------------

    def play(self, scenario: str, *, level_device: str = "kimlong-01",
             rain_device: str = "rain-hue-01", speed: float = 600.0) -> None:
        """Follow a shipped scenario's water level and rain in compressed time
        (``speed`` scenario seconds per real second) until :meth:`stop_playing`."""
        from simulators.sensors.scenario import load_scenario

        sc = load_scenario(scenario)
        level = next(s for s in sc.series if s.device == level_device)
        rain = next(s for s in sc.series if s.device == rain_device)
        span_h = sc.span.total_seconds() / 3600
        self._playing.set()

        def loop() -> None:
            began, last = time.monotonic(), time.monotonic()
            while self._playing.is_set():
                now = time.monotonic()
                hours = math.fmod((now - began) * speed / 3600, span_h)
                self.set_water_level(round(level.value_at(hours), 3))
                self.add_rain(rain.value_at(hours) * (now - last) * speed / 3600)
                last = now
                time.sleep(0.1)

        self._player = threading.Thread(target=loop, name="modbus-device-play", daemon=True)
        self._player.start()

    def stop_playing(self) -> None:
        """Stop following the scenario (the values stay where they are)."""
        self._playing.clear()
        if self._player is not None:
            self._player.join(5)
            self._player = None


def main(argv: list[str] | None = None) -> int:
    """Serve a simulated device until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5020)
    parser.add_argument("--framer", choices=("socket", "rtu"), default="socket")
    parser.add_argument("--play", default="flood-2025-11-03", help="scenario to follow")
    parser.add_argument("--speed", type=float, default=600.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    device = ModbusDevice(host=args.host, port=args.port, framer=args.framer)
    device.start()
    device.play(args.play, speed=args.speed)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_a: done.set())
    signal.signal(signal.SIGTERM, lambda *_a: done.set())
    print(f"modbus device on {args.host}:{device.port} ({args.framer}); Ctrl-C stops it",
          flush=True)
    done.wait()
    device.stop_playing()
    device.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
