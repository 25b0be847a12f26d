# DeepLabV3 R-50-D8, Cityscapes 512 x 1024, 80k iterations (MMSegmentation's
# config, unchanged) with GHM-CWAP as the per-pixel loss of the decode head.
# Every labelled pixel is an example of its class; pixels labelled 255 are
# ignored: never counted into the histograms, never weighted. The auxiliary
# FCN head keeps its cross-entropy (weight 0.4): it only helps training.
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmghm'], allow_failed_imports=False)

num_classes = 19
model = dict(
    decode_head=dict(
        num_classes=num_classes,
        loss_decode=dict(
            _delete_=True,
            type='mmghm.GHMCWAPLoss',
            num_classes=num_classes,
            ignore_index=255,
            num_bins=30,
            alpha=0.9,
            gamma=0.8,
            loss_weight=1.0,
            loss_name='loss_ghm_cwap')))

# Update the histograms every 1,000 iterations (8 x 512 x 1024 pixels an
# iteration). The interval divides the checkpoint interval (8,000), so every
# checkpoint holds freshly synced histograms.
custom_hooks = [dict(type='mmghm.AURAHook', by_epoch=False, interval=1000)]
