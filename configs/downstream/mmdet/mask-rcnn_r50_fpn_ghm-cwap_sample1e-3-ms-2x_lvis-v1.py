# LVIS v1 with repeat-factor sampling (t = 1e-3), Mask R-CNN R-50-FPN, 2x:
# MMDetection's Seesaw Loss config with the Seesaw loss replaced by GHM-CWAP,
# everything else (normalised linear classifier with temperature 20, data,
# schedule, test settings) unchanged, so the two losses compare one to one.
#
# Seesaw scores C + 2 channels (its own objectness); GHM-CWAP uses the usual
# C + 1 softmax with background last (num_classes = 1203 + 1) and leaves the
# background out of the margins (background_index=-1), as Seesaw leaves it
# out of its mitigation and compensation factors.
_base_ = 'mmdet::seesaw_loss/mask-rcnn_r50_fpn_seesaw-loss_sample1e-3-ms-2x_lvis-v1.py'  # noqa: E501
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

# An epoch of LVIS v1 is over 6,000 iterations at batch 16 (100k images,
# more with repeat-factor sampling): update every 1,000. Classes not seen in
# an interval keep their histogram and margins (method.md section 7).
custom_hooks = [dict(type='mmghm.AURAHook', by_epoch=False, interval=1000)]
