# ImageNet-LT schedule of Decoupling (Kang et al., ICLR 2020, "Decoupling
# representation and classifier for long-tailed recognition",
# github.com/facebookresearch/classifier-balancing,
# config/ImageNet_LT/feat_uniform.yaml): joint training for 90 epochs, batch
# 512, SGD lr 0.2, momentum 0.9, weight decay 5e-4, cosine decay to 0 stepped
# once an epoch, no warm-up. The GHM-CWAP paper does not state its
# large-scale settings; this is the most widely reused recipe for ResNet-50 /
# ResNeXt-50 on ImageNet-LT. Here 8 GPUs x 64 images = 512.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=5e-4))

param_scheduler = dict(
    type='CosineAnnealingLR', T_max=90, eta_min=0, by_epoch=True, begin=0,
    end=90)

train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=5)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=512)
