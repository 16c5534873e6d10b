#!/usr/bin/python3
"""Modbus test peer for Pantau: Debian's python3-pymodbus (3.0) serving the three built-in register
maps with known values, over TCP (default) or RTU on a pseudo-terminal (--rtu).

  unit 1  generic UPS        holding 0-9, discrete input 0, coils 0-2   (collectors/modbus/maps/ups-generic.ts)
  unit 2  EPEVER Tracer      input registers 0x3100-0x3313              (maps/epever-tracer.ts)
  unit 3  Eastron SDM meter  input registers 0x0000-0x01FF, float32 BE  (maps/eastron-sdm.ts)

Prints "READY <port>" (TCP) or "READY rtu <path>" (RTU: open <path> as the serial port) once it
serves, and "REQ unit=U fc=F address=A count=C" for every read it answers, so a test can count
requests. --on-battery starts the UPS on battery; SIGUSR1 toggles mains / battery and prints
"STATE on_battery=0|1". SIGTERM or SIGINT exits 0.

Run with Debian's python: /usr/bin/python3 test/support/modbus-server.py --port 0
Needs: apt-get install -y --no-install-recommends python3-pymodbus python3-serial python3-serial-asyncio
"""

import argparse
import asyncio
import logging
import os
import signal
import struct
import sys
import tty

from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


class LoggingSlave(ModbusSlaveContext):
    """A unit whose every answered read is printed (one getValues per request)."""

    def __init__(self, unit, **kwargs):
        super().__init__(zero_mode=True, **kwargs)
        self.unit = unit

    def getValues(self, fc_as_hex, address, count=1):
        print(f"REQ unit={self.unit} fc={fc_as_hex} address={address} count={count}", flush=True)
        return super().getValues(fc_as_hex, address, count)


def u32_le(v):
    """A 32-bit value as two registers, low word first (EPEVER)."""
    return [v & 0xFFFF, (v >> 16) & 0xFFFF]


def f32_be(v):
    """An IEEE 754 float32 as two registers, high word first (Eastron)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", v))
    return [hi, lo]


# Generic UPS, holding 0..9: status, charge %, runtime s (u32 BE), battery 0.1 V, battery 0.1 °C,
# input 0.1 V, input 0.1 Hz, output 0.1 V, load %. Discrete 0: mains present.
UPS_MAINS = [0b000, 100, 0, 5400, 273, 315, 2214, 500, 2200, 23]
UPS_BATTERY = [0b001, 87, 0, 4620, 258, 316, 0, 0, 2200, 25]


def epever_registers():
    regs = [0] * 0x300  # 0x3100 .. 0x33FF
    put = lambda addr, values: regs.__setitem__(slice(addr - 0x3100, addr - 0x3100 + len(values)), values)
    put(0x3100, [9840, 1255])  # PV 98.40 V, 12.55 A
    put(0x3102, u32_le(123492))  # PV 1234.92 W
    put(0x3104, [2720, 4250])  # battery 27.20 V, charging 42.50 A
    put(0x3106, u32_le(115600))  # charging 1156.00 W
    put(0x310C, [2710, 320])  # load 27.10 V, 3.20 A
    put(0x310E, u32_le(8672))  # load 86.72 W
    put(0x3110, [2950, 4125])  # battery 29.50 °C, controller 41.25 °C
    put(0x311A, [76])  # state of charge %
    put(0x3312, u32_le(432109))  # generated 4321.09 kWh
    return regs


def sdm_registers():
    regs = [0] * 0x200
    for addr, v in [
        (0x0000, 229.8),  # V
        (0x0006, 4.35),  # A
        (0x000C, 975.2),  # W
        (0x0012, 1000.3),  # VA
        (0x001E, 0.975),  # power factor
        (0x0046, 50.02),  # Hz
        (0x0048, 1523.4),  # import kWh
        (0x004A, 0.0),  # export kWh
        (0x0156, 1523.4),  # total kWh
    ]:
        regs[addr : addr + 2] = f32_be(v)
    return regs


def build_context(on_battery):
    ups = LoggingSlave(
        1,
        hr=ModbusSequentialDataBlock(0, list(UPS_BATTERY if on_battery else UPS_MAINS)),
        di=ModbusSequentialDataBlock(0, [not on_battery]),
        co=ModbusSequentialDataBlock(0, [True, False, True]),
        ir=ModbusSequentialDataBlock(0, [0]),
    )
    epever = LoggingSlave(
        2,
        ir=ModbusSequentialDataBlock(0x3100, epever_registers()),
        hr=ModbusSequentialDataBlock(0, [0]),
        di=ModbusSequentialDataBlock(0, [False]),
        co=ModbusSequentialDataBlock(0, [False]),
    )
    sdm = LoggingSlave(
        3,
        ir=ModbusSequentialDataBlock(0, sdm_registers()),
        hr=ModbusSequentialDataBlock(0, [0]),
        di=ModbusSequentialDataBlock(0, [False]),
        co=ModbusSequentialDataBlock(0, [False]),
    )
    return ModbusServerContext(slaves={1: ups, 2: epever, 3: sdm}, single=False)


def bridge_ptys(loop):
    """Two pseudo-terminal pairs joined master to master, like `socat pty pty`: the server opens one
    end, the client the other. Returns (server_path, client_path)."""
    m1, s1 = os.openpty()
    m2, s2 = os.openpty()
    for fd in (s1, s2):
        tty.setraw(fd)

    def pump(src, dst):
        def go():
            try:
                os.write(dst, os.read(src, 4096))
            except OSError:
                pass

        return go

    loop.add_reader(m1, pump(m1, m2))
    loop.add_reader(m2, pump(m2, m1))
    # Our own copies of the terminal ends stay open, so a client that closes its end does not
    # make the masters read EIO.
    return os.ttyname(s1), os.ttyname(s2)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free one, printed on READY)")
    parser.add_argument("--rtu", action="store_true", help="serve Modbus RTU on a pseudo-terminal instead of TCP")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--on-battery", action="store_true", help="start the UPS (unit 1) on battery")
    parser.add_argument(
        "--identity",
        action="store_true",
        help="answer Read Device Identification (43/14) as vendor 'Pantau Test', model 'Test UPS 1000'",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)

    loop = asyncio.get_running_loop()
    state = {"on_battery": args.on_battery}
    context = build_context(state["on_battery"])

    def toggle():
        state["on_battery"] = not state["on_battery"]
        ups = context[1]
        ups.setValues(3, 0, list(UPS_BATTERY if state["on_battery"] else UPS_MAINS))
        ups.setValues(2, 0, [not state["on_battery"]])
        print(f"STATE on_battery={int(state['on_battery'])}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, toggle)

    if args.rtu:
        server_path, client_path = bridge_ptys(loop)
        server = ModbusSerialServer(context, ModbusRtuFramer, port=server_path, baudrate=args.baud, timeout=0.05)
        await server.start()
        print(f"READY rtu {client_path}", flush=True)
        await stop.wait()
        await server.shutdown()
    else:
        identity = None
        if args.identity:
            identity = ModbusDeviceIdentification(
                info_name={
                    "VendorName": "Pantau Test",
                    "ProductCode": "TU1000",
                    "MajorMinorRevision": "2.3",
                    "ProductName": "Test UPS",
                    "ModelName": "Test UPS 1000",
                }
            )
        server = ModbusTcpServer(
            context,
            ModbusSocketFramer,
            identity=identity,
            address=(args.host, args.port),
            allow_reuse_address=True,
        )
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        port = server.server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await stop.wait()
        await server.server_close()
        task.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
