"""``vla_inference``: the policy's wiring (``wiring.InferenceWiring``) under rclpy.

A due frame in, ``robot/action`` out one forward pass later; zero with the reason on
/diagnostics whenever anything is missing, stale or failing, and zero on shutdown.

Once the model is loaded, its objects (hundreds of thousands: torch and transformers
modules) are frozen out of the garbage collector (``gc.freeze``). A full collection
over them took 175 ms idle and about 340 ms on the robot graph's 2 busy cores, and
landed now and then between a frame and its action.
"""

from __future__ import annotations

import gc
import resource
import sys

from mobile_vla.ros_bus import run_node
from mobile_vla_inference.wiring import InferenceWiring


def memory_mb() -> dict[str, str]:
    """Resident memory now and at peak (the original's memory monitoring), and CUDA's."""
    values = {}
    try:
        with open('/proc/self/status', encoding='ascii') as status:
            for line in status:
                if line.startswith('VmRSS:'):
                    values['rss_mb'] = f'{int(line.split()[1]) / 1024:.0f}'
    except OSError:
        pass
    values['peak_rss_mb'] = f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}'
    try:
        import torch

        if torch.cuda.is_available():
            values['cuda_allocated_mb'] = f'{torch.cuda.memory_allocated() / 2**20:.0f}'
            values['cuda_peak_mb'] = f'{torch.cuda.max_memory_allocated() / 2**20:.0f}'
    except ImportError:
        pass
    return values


def main(args: list[str] | None = None) -> int:
    return run_node('vla_inference',
                    lambda bus: InferenceWiring(bus, process_health=memory_mb,
                                                on_loaded=gc.freeze), args)


if __name__ == '__main__':
    sys.exit(main())
