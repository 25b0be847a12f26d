"""A DDP wrapper that also works for modules on the CPU."""
from mmengine.model import MMDistributedDataParallel

from mmghm.registry import MODEL_WRAPPERS

__all__ = ['DeviceAwareDDP']


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that drops ``device_ids`` on CPU.

    MMEngine's Runner always passes ``device_ids=[LOCAL_RANK]``, which
    PyTorch rejects for a CPU module ("device_ids ... must be None for CPU
    modules"). GPU modules are wrapped exactly as before.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        kwargs.setdefault('broadcast_buffers', False)
        super().__init__(
            module=module, device_ids=None if on_cpu else device_ids,
            **kwargs)
