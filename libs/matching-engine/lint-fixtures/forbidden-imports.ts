// Lint fixture: each import below must be refused by @nx/enforce-module-boundaries, because the
// matching engine (type:domain) is pure. scripts/lint-boundaries.spec.ts asserts the errors.
import { Kafka } from 'kafkajs';
import { Injectable } from '@nestjs/common';
import { createKafka } from '@trading/kafka';
import { createDataSource } from '@trading/db';

export const forbidden = [Kafka, Injectable, createKafka, createDataSource];
