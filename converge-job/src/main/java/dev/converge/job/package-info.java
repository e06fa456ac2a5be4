package dev.converge.job;
