package dev.converge.block;
