#!/bin/sh
# Training-only dependencies (Debian packages). CI never runs this: the engine does not need torch.
set -e
apt-get update
apt-get install -y python3-torch python3-numpy python3-matplotlib python3-regex libopenblas0-serial nodejs npm
