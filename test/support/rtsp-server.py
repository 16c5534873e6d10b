#!/usr/bin/python3
"""RTSP test source for Pantau's RTSP probe tests: Debian's GStreamer RTSP server.

Run with Debian's own interpreter (python3-gi is not in pyenv/venv pythons):

    /usr/bin/python3 test/support/rtsp-server.py --port 8554

Needs: apt-get install -y --no-install-recommends gstreamer1.0-rtsp python3-gi \
    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-ugly

Mounts (H.264 by x264enc from gstreamer1.0-plugins-ugly, ultrafast, 1 s GOP so a late viewer
decodes within a second; media is shared between viewers, so N probes cost one encoder):
    /moving      640x360 @ 15 fps, SMPTE 75 % bars (no snow) scrolling sideways (every frame differs)
    /sub         320x180 @ 15 fps, the same scrolling bars (a camera's sub-stream)
    /frozen      640x360 @ 15 fps, still SMPTE 75 % bars: frames keep arriving, content identical
    /black       640x360 @ 15 fps, an all-black picture
    /audio-only  G.711 A-law (PCMA) 8 kHz mono, no video track

Prints "READY <port>" on stdout once the server listens; exits 0 on SIGTERM or SIGINT.
"""

import argparse
import ctypes
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PR_SET_PDEATHSIG = 1

H264 = (
    "videoconvert ! video/x-raw,format=I420 "
    "! x264enc tune=zerolatency speed-preset=ultrafast bitrate={kbps} key-int-max=15 threads=1 "
    "! video/x-h264,profile=constrained-baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=-1"
)


def video(pattern: str, width: int, height: int, kbps: int, extra: str = "") -> str:
    return (
        f"( videotestsrc is-live=true pattern={pattern} {extra} "
        f"! video/x-raw,width={width},height={height},framerate=15/1 "
        f"! {H264.format(kbps=kbps)} )"
    )


MOUNTS = {
    "/moving": video("smpte75", 640, 360, 600, "horizontal-speed=4"),
    "/sub": video("smpte75", 320, 180, 200, "horizontal-speed=4"),
    "/frozen": video("smpte75", 640, 360, 400),
    "/black": video("black", 640, 360, 200),
    "/audio-only": (
        "( audiotestsrc is-live=true wave=sine freq=440 "
        "! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 "
        "! alawenc ! rtppcmapay name=pay0 pt=8 )"
    ),
}


def die_with_parent() -> None:
    """Ask Linux to SIGTERM us when the process that started us dies (a crashed test or demo)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def main() -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(description="GStreamer RTSP test source for Pantau")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for path, launch in MOUNTS.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        mounts.add_factory(path, factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 1

    def stop(*_args: object) -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, stop)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
