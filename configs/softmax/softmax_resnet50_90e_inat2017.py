_base_ = [
    '../_base_/models/resnet50_inat2017.py',
    '../_base_/datasets/inat2017.py',
    '../_base_/schedules/inat_90e.py',
    '../_base_/default_runtime.py',
]

# iNaturalist 2017.
# Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base model's loss).
