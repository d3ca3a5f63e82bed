// Lint fixture: each import below must be refused by @nx/enforce-module-boundaries, because the
// risk engine (type:domain) is pure. scripts/lint-boundaries.spec.ts asserts the errors.
import { Kafka } from 'kafkajs';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { Injectable } from '@nestjs/common';
import { createDataSource } from '@trading/db';
import { MatchingEngine } from '@trading/matching-engine';

export const forbidden = [Kafka, Redis, Pool, DataSource, Injectable, createDataSource, MatchingEngine];
