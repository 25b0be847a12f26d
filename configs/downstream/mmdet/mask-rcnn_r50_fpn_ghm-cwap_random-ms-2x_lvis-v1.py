# LVIS v1 with plain random sampling, Mask R-CNN R-50-FPN, 2x: MMDetection's
# Seesaw Loss config (random sampling variant) with GHM-CWAP in place of the
# Seesaw loss; see the sample1e-3 variant for the background handling.
_base_ = 'mmdet::seesaw_loss/mask-rcnn_r50_fpn_seesaw-loss_random-ms-2x_lvis-v1.py'  # noqa: E501
custom_imports = dict(imports=['mmghm'], allow_failed_imports=False)

num_classes = 1203
model = dict(
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            loss_cls=dict(
                _delete_=True,
                type='mmghm.GHMCWAPLoss',
                num_classes=num_classes + 1,
                background_index=-1,
                num_bins=30,
                alpha=0.9,
                gamma=0.8,
                loss_weight=1.0))))

custom_hooks = [dict(type='mmghm.AURAHook', by_epoch=False, interval=1000)]
