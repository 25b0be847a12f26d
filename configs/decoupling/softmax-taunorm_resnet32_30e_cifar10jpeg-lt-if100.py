_base_ = ['../softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py']

# tau-normalisation (Kang et al., ICLR 2020) of a cross-entropy stage 1, post
# hoc: no training; predictions use the class weights w_c / ||w_c||^tau
# without the bias (mmghm.TauNormLinearClsHead). Test a softmax_* checkpoint
# with this config as it is, with the tau that tools/analysis/select_tau.py
# chose on a validation split carved from the training set (never the test
# set):
#   python tools/test.py THIS_CONFIG CKPT --cfg-options model.head.tau=TAU
# tau = 1.0 below is only the default of an untuned run.
model = dict(head=dict(type='mmghm.TauNormLinearClsHead', tau=1.0))
