package dev.converge.migration;
