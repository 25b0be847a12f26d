# FCN R-50-D8, ADE20K 512 x 512, 160k iterations (MMSegmentation's config,
# unchanged) with GHM-CWAP as the per-pixel loss of the decode head. ADE20K's
# 150 classes are strongly long-tailed in pixels; label 0 ("other") becomes
# 255 (reduce_zero_label) and is ignored. The auxiliary head keeps its
# cross-entropy.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmghm'], allow_failed_imports=False)

num_classes = 150
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

# Every 1,000 iterations; divides the checkpoint interval (16,000).
custom_hooks = [dict(type='mmghm.AURAHook', by_epoch=False, interval=1000)]
