# Faster R-CNN R-50-FPN 1x on COCO (MMDetection's config, unchanged) with
# GHM-CWAP as the classification loss of the RoI bbox head.
#
# The bbox head scores C + 1 classes, the last being background, so the loss
# is built with num_classes = C + 1 and background_index=-1: background RoIs
# keep suppressing every foreground logit (no margins for them, none on the
# background logit), while the background still gets its own gradient-norm
# histogram and intra-category weights (see configs/downstream/README.md).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmghm'], allow_failed_imports=False)

num_classes = 80
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

# MMDetection trains by epoch, but an epoch of COCO is 7,330 iterations at
# batch 16: update the histograms (Algorithm 1) every 1,000 iterations.
custom_hooks = [dict(type='mmghm.AURAHook', by_epoch=False, interval=1000)]
