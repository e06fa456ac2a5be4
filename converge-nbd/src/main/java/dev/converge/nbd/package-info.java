package dev.converge.nbd;
