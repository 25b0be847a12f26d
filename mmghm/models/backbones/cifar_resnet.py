"""The 6n+2 CIFAR ResNet of He et al. (2016), as used for long-tailed CIFAR.

Cui et al. (CVPR 2019, class-balanced loss), Cao et al. (NeurIPS 2019,
LDAM-DRW) and the GHM-CWAP paper (Table 1) train ResNet-32: a 3x3 stem with
16 channels, then three stages of ``n`` basic blocks with 16, 32 and 64
channels (strides 1, 2, 2), i.e. 6n+2 weighted layers, 0.46M parameters with
a 10-way linear classifier. MMPretrain's ``ResNet_CIFAR`` is a different
network (ImageNet ResNet-18+ with a CIFAR stem, 11M+ parameters).

Where the number of channels doubles, He et al. (Sec. 4.2, "option A") keep
the shortcut parameter-free: subsample the identity with stride 2 and pad the
new channels with zeros. LDAM-DRW's ``resnet32`` does exactly this. Option B
(a strided 1x1 convolution + BN projection, MMPretrain's ``ResLayer``) is
offered as well.
"""
from typing import Optional, Sequence, Union

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmpretrain.models.backbones.resnet import BasicBlock, ResLayer, ResNet
from torch import Tensor

from mmghm.registry import MODELS


class ZeroPadShortcut(nn.Module):
    """Parameter-free "option A" shortcut of He et al. (2016), Sec. 4.2.

    Subsamples the identity spatially by ``stride`` and pads the extra output
    channels with zeros, split evenly before and after the input channels
    (as LDAM-DRW's ``LambdaLayer`` does).

    Args:
        in_channels: Channels of the block input.
        out_channels: Channels of the block output (>= ``in_channels``).
        stride: Spatial subsampling factor of the block.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                'ZeroPadShortcut cannot reduce channels: got in_channels='
                f'{in_channels}, out_channels={out_channels}.')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        extra = out_channels - in_channels
        self.pad_front = extra // 2
        self.pad_back = extra - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        # F.pad pads the last dims first: (W, W, H, H, C, C).
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'stride={self.stride}')


class ZeroPadResLayer(nn.Sequential):
    """A stage of basic blocks whose first block uses :class:`ZeroPadShortcut`.

    The counterpart of MMPretrain's ``ResLayer`` (which always projects with
    a 1x1 convolution) for the option-A shortcut.
    """

    def __init__(self,
                 block: type,
                 num_blocks: int,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 drop_path_rate: Union[float, Sequence[float]] = 0.0,
                 **kwargs) -> None:
        if isinstance(drop_path_rate, float):
            drop_path_rate = [drop_path_rate] * num_blocks
        # ResNet passes these for Bottleneck/ResLayer; a basic block with a
        # zero-padded shortcut has no use for them.
        kwargs.pop('avg_down', None)
        kwargs.pop('expansion', None)
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = ZeroPadShortcut(in_channels, out_channels, stride)
        layers = []
        for i in range(num_blocks):
            layers.append(
                block(
                    in_channels=in_channels if i == 0 else out_channels,
                    out_channels=out_channels,
                    stride=stride if i == 0 else 1,
                    downsample=downsample if i == 0 else None,
                    drop_path_rate=drop_path_rate[i],
                    **kwargs))
        super().__init__(*layers)


@MODELS.register_module()
class CifarResNet(ResNet):
    """The 6n+2 ResNet for 32x32 images of He et al. (CVPR 2016, Sec. 4.2).

    Depth 20/32/44/56/110 (n = 3/5/7/9/18 basic blocks a stage), channels
    16/32/64, a 3x3 stride-1 stem without max-pooling. The backbone of the
    GHM-CWAP paper's Table 1 (ResNet-32). Use it with MMPretrain's
    ``GlobalAveragePooling`` neck and ``LinearClsHead(in_channels=64)``.

    It reuses MMPretrain's ``ResNet`` machinery (``BasicBlock``,
    ``frozen_stages``, ``norm_eval``, ``with_cp``) with this network's
    stage layout, stem and shortcut.

    Args:
        depth: 6n+2 network depth, one of 20, 32, 44, 56, 110.
        in_channels: Input image channels.
        stem_channels: Output channels of the 3x3 stem convolution.
        base_channels: Channels of the first stage; doubled at each stage.
        num_stages: Number of stages to build, 1 to 3.
        strides: Stride of the first block of each stage.
        out_indices: Stages whose outputs are returned (0-based, negative
            indices count from the last stage).
        shortcut: ``'A'``: zero-padded identity where the shape changes
            (He et al.'s option A, as in Cui et al. and LDAM-DRW; 0.46M
            parameters for ResNet-32 with a 10-way classifier). ``'B'``: a
            1x1 convolution + BN projection there (MMPretrain's ``ResLayer``).
        frozen_stages: Stages to freeze (stem = stage 0); -1 freezes none.
        conv_cfg: Config of the convolution layers.
        norm_cfg: Config of the normalisation layers.
        norm_eval: Keep normalisation layers in eval mode while training.
        with_cp: Use gradient checkpointing in the blocks.
        zero_init_residual: Initialise each block's last BN weight to zero.
            Off by default, as in He et al. and LDAM-DRW.
        init_cfg: Weight initialisation. The default is the He/Kaiming
            normal initialisation (fan-in, ReLU gain) of He et al. and of
            LDAM-DRW's ``_weights_init``, BN weights 1 and biases 0.
        drop_path_rate: Stochastic depth rate (0 = off, as in the paper).

    Example:
        >>> import torch
        >>> from mmghm.models import CifarResNet
        >>> net = CifarResNet(depth=32).eval()
        >>> [tuple(o.shape) for o in net(torch.rand(2, 3, 32, 32))]
        [(2, 64, 8, 8)]
    """

    arch_settings = {
        20: (BasicBlock, (3, 3, 3)),
        32: (BasicBlock, (5, 5, 5)),
        44: (BasicBlock, (7, 7, 7)),
        56: (BasicBlock, (9, 9, 9)),
        110: (BasicBlock, (18, 18, 18)),
    }

    def __init__(self,
                 depth: int = 32,
                 in_channels: int = 3,
                 stem_channels: int = 16,
                 base_channels: int = 16,
                 num_stages: int = 3,
                 strides: Sequence[int] = (1, 2, 2),
                 out_indices: Sequence[int] = (-1, ),
                 shortcut: str = 'A',
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 zero_init_residual: bool = False,
                 init_cfg: Optional[Union[dict, list]] = [
                     dict(
                         type='Kaiming',
                         layer='Conv2d',
                         mode='fan_in',
                         nonlinearity='relu',
                         distribution='normal'),
                     dict(
                         type='Constant',
                         val=1,
                         bias=0,
                         layer=['_BatchNorm', 'GroupNorm'])
                 ],
                 drop_path_rate: float = 0.0) -> None:
        if depth not in self.arch_settings:
            raise ValueError(
                f'CifarResNet depth must be one of '
                f'{sorted(self.arch_settings)} (6n+2), but got {depth!r}.')
        if shortcut not in ('A', 'B'):
            raise ValueError("CifarResNet shortcut must be 'A' (zero-padded "
                             "identity) or 'B' (1x1 conv projection), but "
                             f'got {shortcut!r}.')
        if isinstance(num_stages, bool) or num_stages not in (1, 2, 3):
            raise ValueError('CifarResNet num_stages must be 1, 2 or 3, but '
                             f'got {num_stages!r}.')
        if len(strides) != num_stages:
            raise ValueError(f'CifarResNet needs one stride per stage: got '
                             f'strides={tuple(strides)} for num_stages='
                             f'{num_stages}.')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        normalized = []
        for index in out_indices:
            if not isinstance(index, int) or not (-num_stages <= index <
                                                  num_stages):
                raise ValueError(
                    f'CifarResNet out_indices must be ints in '
                    f'[{-num_stages}, {num_stages - 1}] for num_stages='
                    f'{num_stages}, but got {tuple(out_indices)}.')
            normalized.append(index % num_stages)
        if not (isinstance(frozen_stages, int)
                and -1 <= frozen_stages <= num_stages):
            raise ValueError(f'CifarResNet frozen_stages must be in [-1, '
                             f'{num_stages}], but got {frozen_stages!r}.')
        self.shortcut = shortcut
        super().__init__(
            depth,
            in_channels=in_channels,
            stem_channels=stem_channels,
            base_channels=base_channels,
            num_stages=num_stages,
            strides=tuple(strides),
            dilations=(1, ) * num_stages,
            out_indices=tuple(normalized),
            style='pytorch',
            deep_stem=False,
            avg_down=False,
            frozen_stages=frozen_stages,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            norm_eval=norm_eval,
            with_cp=with_cp,
            zero_init_residual=zero_init_residual,
            init_cfg=init_cfg,
            drop_path_rate=drop_path_rate)

    def make_res_layer(self, **kwargs) -> nn.Module:
        if self.shortcut == 'A':
            return ZeroPadResLayer(**kwargs)
        return ResLayer(**kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        # 3x3 stride-1 convolution, no max-pooling (32x32 inputs).
        self.conv1 = build_conv_layer(
            self.conv_cfg,
            in_channels,
            stem_channels,
            kernel_size=3,
            stride=1,
            padding=1,
            bias=False)
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)

    def train(self, mode: bool = True) -> 'CifarResNet':
        """Set train/eval mode, keeping frozen stages and ``norm_eval``.

        MMPretrain's ``ResNet.train`` returns None; return ``self`` as
        ``nn.Module.train`` does, so ``net.eval()`` can be chained.
        """
        super().train(mode)
        return self

    def forward(self, x: Tensor) -> tuple:
        """Return the feature maps of the stages in ``out_indices``."""
        x = self.relu(self.norm1(self.conv1(x)))
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
