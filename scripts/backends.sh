#!/usr/bin/env bash
# Local stand-ins for AWS backends used by the tests (filled in by the
# payment-service work: dynalite and MariaDB on loopback).
backends_start() { :; }
backends_stop() { :; }
