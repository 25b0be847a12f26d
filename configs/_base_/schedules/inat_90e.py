# iNaturalist schedule of Decoupling (Kang et al., ICLR 2020,
# config/iNaturalist18/feat_unifrom.yaml in
# github.com/facebookresearch/classifier-balancing): ResNet-50, 90 epochs,
# batch 512, SGD lr 0.2, momentum 0.9, weight decay 1e-4, cosine decay to 0
# once an epoch. Decoupling trains iNaturalist 2018; the GHM-CWAP paper uses
# iNaturalist 2017 and states no schedule, so the 2018 recipe is reused.
# Here 8 GPUs x 64 images = 512.
_base_ = ['./imagenet_lt_90e.py']

optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
