package dev.converge.daemon;
