"""Tests for cnnlab.models.variants: the layouts behind the slides' figures."""

from __future__ import annotations

import pytest

from cnnlab.models import summary
from cnnlab.models.variants import RESNET_BLOCKS, alexnet_grouped, resnet


def test_cs109b_resnet_figures_are_the_cifar10_resnets_exactly():
    # CS109B: "ResNet 18 11.174M, 34 21.282M, 50 23.521M, 101 42.513M, 152 58.157M".
    exact = {18: 11_173_962, 34: 21_282_122, 50: 23_520_842, 101: 42_512_970,
             152: 58_156_618}
    slide = {18: 11.174e6, 34: 21.282e6, 50: 23.521e6, 101: 42.513e6, 152: 58.157e6}
    for depth, total in exact.items():
        s = summary(resnet(depth, cifar=True))
        assert s.total_params == total
        assert round(total, -3) == round(slide[depth])
        assert s.input_shape == (3, 32, 32)
        assert s.output_shape == (10,)
        assert s.row("layer4.0").output_shape[1:] == (4, 4)   # no stride-2 stem, no pool


def test_imagenet_resnets_match_the_zoo_and_torchvision():
    assert summary(resnet(18)).total_params == summary("resnet18").total_params == 11_689_512
    assert summary(resnet(50)).total_params == summary("resnet50").total_params == 25_557_032
    assert summary(resnet(101)).total_params == 44_549_160       # torchvision resnet101
    assert summary(resnet(152)).total_params == 60_192_808       # torchvision resnet152
    assert summary(resnet(18, num_classes=5)).output_shape == (5,)


def test_resnet_refuses_an_unpublished_depth():
    with pytest.raises(ValueError, match=r"depth 20 .* \[18, 34, 50, 101, 152\]"):
        resnet(20)
    assert sorted(RESNET_BLOCKS) == [18, 34, 50, 101, 152]


def test_alexnet_on_two_gpus_has_the_papers_60_million():
    grouped = summary(alexnet_grouped())
    single = summary("alexnet")
    assert grouped.total_params == 60_965_224
    for name in ("conv2", "conv4", "conv5"):
        assert grouped.row(name).weights * 2 == single.row(name).weights
        assert grouped.row(name).biases == single.row(name).biases
    assert grouped.row("conv3").params == single.row("conv3").params
    assert single.total_params - grouped.total_params == 1_413_120
