"""Modbus driver: polls a gauge, rain counter or analyser over Modbus TCP, RTU over TCP or RTU.

Each :meth:`ModbusDriver.read` reads every register of the map once (one request
per entry, ``timeout_s`` each, retried ``retries`` times by pymodbus) and returns
one :class:`~edge.drivers.base.Sample` per gauge register, stamped with the poll's
wall-clock time. A ``counter`` register (running total, e.g. rain-gauge tips)
gives one amount per ``report_every_s``: the increase since the last report,
over the seconds it covers (a wrap of the counter is followed; a counter that
went back to a small value means the device restarted, and counts from zero).

A failed poll raises :class:`~edge.drivers.base.DriverError` naming the device,
its address and the register; the driver then waits ``backoff_initial_s``
(doubling up to ``backoff_max_s``) before it talks to the device again, and
``read`` returns at once with no samples meanwhile, so the agent's loop never
blocks on a dead line. :attr:`state` (``streaming``, ``reconnecting``,
``closed``) and :attr:`reconnects` go into the gateway's heartbeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.drivers.base import DriverError, Sample
from edge.drivers.modbus_config import ModbusDriverConfig, ModbusRegister
from ioc.contract import QUANTITIES, now_utc

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _CounterBase:
    raw: int
    ts: datetime


def _client(cfg: ModbusDriverConfig) -> Any:
    """The pymodbus client of the configured transport (not connected yet)."""
    from pymodbus import FramerType
    from pymodbus.client import ModbusSerialClient, ModbusTcpClient

    if cfg.transport == "rtu":
        assert cfg.serial is not None
        line = cfg.serial
        return ModbusSerialClient(line.port, framer=FramerType.RTU, baudrate=line.baudrate,
                                  bytesize=line.bytesize, parity=line.parity,
                                  stopbits=line.stopbits, timeout=cfg.timeout_s,
                                  retries=cfg.retries, reconnect_delay=0)
    framer = FramerType.SOCKET if cfg.transport == "tcp" else FramerType.RTU
    assert cfg.host is not None
    return ModbusTcpClient(cfg.host, port=cfg.port, framer=framer, timeout=cfg.timeout_s,
                           retries=cfg.retries, reconnect_delay=0)


def decode_registers(reg: ModbusRegister, registers: list[int]) -> float:
    """The raw number a register entry holds (before scale and offset)."""
    from pymodbus.client import ModbusTcpClient

    types = ModbusTcpClient.DATATYPE
    data_type = {"int16": types.INT16, "uint16": types.UINT16, "int32": types.INT32,
                 "uint32": types.UINT32, "float32": types.FLOAT32}[reg.data_type]
    value = ModbusTcpClient.convert_from_registers(registers, data_type,
                                                   word_order=reg.word_order)
    assert isinstance(value, int | float)
    return value


class ModbusDriver:
    """A :class:`~edge.drivers.base.SensorDriver` for one Modbus device."""

    def __init__(self, config: ModbusDriverConfig, device: str, *,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = now_utc) -> None:
        self.config = config
        self.device = device
        self._clock = clock
        self._now = now
        self._client: Any = None
        self._state = "closed"
        self._reconnects = 0
        self._failures = 0  # consecutive failed polls
        self._retry_at = 0.0
        self._counters: dict[int, _CounterBase] = {}

    # --- SensorDriver ----------------------------------------------------------------

    def open(self) -> None:
        """Create the client and try to connect once; an unreachable device is not an error
        here (the first read reports it and the back-off begins)."""
        self._client = _client(self.config)
        self._state = "streaming" if self._client.connect() else "reconnecting"
        if self._state == "reconnecting":
            logger.warning("%s: modbus %s not reachable yet; will retry", self.device,
                           self.config.where())

    def read(self) -> list[Sample]:
        """One poll of every register; [] while backing off; DriverError when it fails."""
        if self._client is None:
            raise DriverError(f"{self.device}: modbus driver not open: call open() first")
        if self._failures and self._clock() < self._retry_at:
            return []
        now = self._now()
        ts = now.replace(microsecond=now.microsecond // 1000 * 1000)
        try:
            raws = [self._read_one(i, reg) for i, reg in enumerate(self.config.registers)]
        except DriverError:
            self._failed()
            raise
        if self._failures:
            self._reconnects += 1
            logger.info("%s: modbus %s answers again after %d failed polls", self.device,
                        self.config.where(), self._failures)
        self._failures = 0
        self._state = "streaming"
        return [s for i, raw in enumerate(raws)
                if (s := self._sample(i, self.config.registers[i], raw, ts)) is not None]

    @property
    def exhausted(self) -> bool:
        """A live device never runs out of samples."""
        return False

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._state = "closed"

    # --- health ----------------------------------------------------------------------

    @property
    def state(self) -> str:
        """streaming, reconnecting (polls failing, backing off) or closed."""
        return self._state

    @property
    def reconnects(self) -> int:
        """Times the device answered again after failed polls."""
        return self._reconnects

    # --- internals -------------------------------------------------------------------

    def _failed(self) -> None:
        self._failures += 1
        self._state = "reconnecting"
        cfg = self.config
        delay = min(cfg.backoff_initial_s * 2 ** (self._failures - 1), cfg.backoff_max_s)
        self._retry_at = self._clock() + delay
        if self._client is not None:
            self._client.close()  # the next try opens a fresh connection

    def _read_one(self, index: int, reg: ModbusRegister) -> float:
        from pymodbus.exceptions import ModbusException

        client, cfg = self._client, self.config
        what = (f"{self.device}: modbus {cfg.where()}: {reg.table} register {reg.address}"
                f" (registers.{index}, {reg.quantity})")
        call = (client.read_holding_registers if reg.table == "holding"
                else client.read_input_registers)
        try:
            response = call(reg.address, count=reg.count, device_id=cfg.unit_id)
        except ModbusException as exc:
            raise DriverError(f"{what}: {exc}") from None
        except OSError as exc:
            raise DriverError(f"{what}: {exc.strerror or exc}") from None
        if response.isError():
            code = getattr(response, "exception_code", "?")
            raise DriverError(f"{what}: the device answered with Modbus exception {code}"
                              " (2: no such address, 4: device failure)")
        registers = list(response.registers)
        if len(registers) < reg.count:
            raise DriverError(f"{what}: {len(registers)} registers in the answer, "
                              f"expected {reg.count}")
        return decode_registers(reg, registers[:reg.count])

    def _sample(self, index: int, reg: ModbusRegister, raw: float,
                ts: datetime) -> Sample | None:
        unit = QUANTITIES[reg.quantity].unit
        if reg.kind == "gauge":
            return Sample(reg.quantity, round(raw * reg.scale + reg.offset, 6), unit, ts,
                          reg.station)
        raw_int = int(raw)
        base = self._counters.get(index)
        if base is None:
            self._counters[index] = _CounterBase(raw_int, ts)
            return None
        elapsed = (ts - base.ts).total_seconds()
        if elapsed < reg.report_every_s:
            return None
        bits = 16 if reg.data_type == "uint16" else 32
        delta = raw_int - base.raw
        if delta < 0:
            if base.raw >= (3 << bits) // 4:  # it was near the top: it wrapped
                delta += 1 << bits
            else:
                logger.warning("%s: counter registers.%d went back from %d to %d: the device "
                               "restarted; counting from zero", self.device, index, base.raw,
                               raw_int)
                delta = raw_int
        self._counters[index] = _CounterBase(raw_int, ts)
        return Sample(reg.quantity, round(delta * reg.scale, 6), unit, ts, reg.station,
                      max(1, round(elapsed)))
