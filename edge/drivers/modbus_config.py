"""Typed config of the Modbus driver: the connection and the register map of one device.

A register entry says where a value lives (table, address), how it is encoded
(data type, word order), how raw becomes the contract's unit (``scale``,
``offset``) and what it measures (contract quantity, station). A ``counter``
register (a tipping-bucket rain gauge's tip count) is turned into amounts per
``report_every_s``. Cross-field checks are field validators, so an error names the
exact key that is wrong (``driver.registers.1.unit``), not the whole entry.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ioc.config import StrictModel, fail_at
from ioc.contract import QUANTITIES, Quantity

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
DataType = Literal["int16", "uint16", "int32", "uint32", "float32"]

#: 16-bit registers each data type occupies.
REGISTER_COUNT: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2,
                                  "float32": 2}


class ModbusRegister(StrictModel):
    """One value the device holds: where, how it is encoded, and what it measures."""

    quantity: Quantity
    station: Slug | None = None
    table: Literal["holding", "input"] = "holding"
    data_type: DataType = "uint16"
    #: "big": the first register holds the high word (Modbus convention); "little": swapped
    word_order: Literal["big", "little"] = "big"
    address: int = Field(ge=0, le=65535)
    #: value = raw * scale + offset, in the contract's unit of ``quantity``
    scale: float = 1.0
    offset: float = 0.0
    #: Optional, as documentation: must be the contract's unit of the quantity.
    unit: str | None = None
    #: gauge: the value now; counter: a running total, published as amounts per period
    kind: Literal["gauge", "counter"] = "gauge"
    report_every_s: int = Field(default=600, ge=1, le=86400)

    @field_validator("address")
    @classmethod
    def _fits(cls, v: int, info: ValidationInfo) -> int:
        n = REGISTER_COUNT.get(info.data.get("data_type", "uint16"), 1)
        if v + n > 65536:
            raise ValueError(f"a {info.data.get('data_type')} at {v} runs past register 65535")
        return v

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("scale 0 would make every reading equal to offset")
        return v

    @field_validator("unit")
    @classmethod
    def _contract_unit(cls, v: str | None, info: ValidationInfo) -> str | None:
        quantity = info.data.get("quantity")
        if v is not None and quantity in QUANTITIES and v != QUANTITIES[quantity].unit:
            raise ValueError(f"{quantity} is published in {QUANTITIES[quantity].unit!r}; "
                             f"convert with scale/offset (e.g. cm → m: scale 0.01)")
        return v

    @field_validator("kind")
    @classmethod
    def _counter_unsigned(cls, v: str, info: ValidationInfo) -> str:
        data_type = info.data.get("data_type")
        if v == "counter" and data_type not in (None, "uint16", "uint32"):
            raise ValueError(f"a counter must be uint16 or uint32 (it wraps), not {data_type}")
        return v

    @property
    def count(self) -> int:
        """Registers this value occupies."""
        return REGISTER_COUNT[self.data_type]


class SerialLine(StrictModel):
    """An RS-485 line for Modbus RTU."""

    port: Annotated[str, Field(min_length=1)]
    baudrate: int = Field(default=9600, ge=300, le=921600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8


class ModbusDriverConfig(StrictModel):
    """A gauge, rain counter or analyser read over Modbus TCP, RTU over TCP, or RTU (serial)."""

    type: Literal["modbus"]
    transport: Literal["tcp", "rtu_over_tcp", "rtu"] = "tcp"
    host: str | None = Field(default=None, validate_default=True)
    port: int = Field(default=502, ge=1, le=65535)
    serial: SerialLine | None = Field(default=None, validate_default=True)
    #: the Modbus device (slave) id
    unit_id: int = Field(default=1, ge=0, le=247)
    #: one request's timeout, and how often pymodbus retries it before the poll fails
    timeout_s: float = Field(default=1.0, gt=0, le=30)
    retries: int = Field(default=1, ge=0, le=5)
    #: after a failed poll, wait this long before trying again, doubling up to the max
    backoff_initial_s: float = Field(default=1.0, gt=0, le=600)
    backoff_max_s: float = Field(default=60.0, gt=0, le=3600)
    registers: Annotated[list[ModbusRegister], Field(min_length=1, max_length=64)]

    @field_validator("host")
    @classmethod
    def _host_for_tcp(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("transport", "tcp") != "rtu":
            raise ValueError(f"transport {info.data.get('transport', 'tcp')} needs a host")
        return v

    @field_validator("serial")
    @classmethod
    def _serial_for_rtu(cls, v: SerialLine | None, info: ValidationInfo) -> SerialLine | None:
        if v is None and info.data.get("transport") == "rtu":
            raise ValueError("transport rtu needs a serial line (serial: {port: /dev/ttyUSB0})")
        return v

    @field_validator("registers")
    @classmethod
    def _distinct(cls, v: list[ModbusRegister]) -> list[ModbusRegister]:
        seen: dict[tuple[str, str | None], int] = {}
        for i, reg in enumerate(v):
            key = (reg.quantity, reg.station)
            if key in seen:
                raise ValueError(f"registers {seen[key]} and {i} both publish {reg.quantity}"
                                 f" of station {reg.station or '(the device)'}")
            seen[key] = i
        for i, a in enumerate(v):  # one register read as two values is a map mistake
            for j in range(i):
                b = v[j]
                if (a.table == b.table and a.address < b.address + b.count
                        and b.address < a.address + a.count):
                    raise ValueError(
                        f"registers {j} and {i} overlap: {b.table} {b.address}"
                        f"..{b.address + b.count - 1} ({b.quantity}) and {a.address}"
                        f"..{a.address + a.count - 1} ({a.quantity})")
        return v

    @model_validator(mode="after")
    def _backoff(self) -> ModbusDriverConfig:
        if self.backoff_initial_s > self.backoff_max_s:
            fail_at([(("backoff_initial_s",), self.backoff_initial_s,
                      f"is above backoff_max_s ({self.backoff_max_s:g})")], "ModbusDriverConfig")
        return self

    def where(self) -> str:
        """The device's address for messages: host:port or the serial port."""
        if self.transport == "rtu" and self.serial is not None:
            return f"{self.serial.port} unit {self.unit_id}"
        return f"{self.host}:{self.port} unit {self.unit_id}"
