package dev.converge.bench; public class Placeholder {}
