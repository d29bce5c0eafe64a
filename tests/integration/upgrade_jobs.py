"""A stateful job and three upgrades of it, as the safe-upgrade tests use them (validator engine and
session cluster): the same source and sink, a GROUP BY aggregate whose state the upgrades keep,
break or drop. On Flink 2.3 with a generator source (see docs/safe-upgrades.md):

- COMPATIBLE changes only the projection after the aggregate: same stream graph, same ids, same
  state layout. Flink restores it.
- INCOMPATIBLE groups by another column of another type: same graph shape, so the aggregate keeps
  its id, but its key is now INT where the savepoint holds STRING keys. Flink maps the state to it
  and the restore fails in the task (StateMigrationException: the new key serializer must be
  compatible).
- DROP removes the aggregate: its state maps to no operator. Flink refuses the job ("Cannot map
  checkpoint/savepoint state ... not available in the new program") unless non-restored state may
  be skipped.
"""

from __future__ import annotations

# Parallelism 2 whatever the machine: the session cluster of the tests has 2 slots.

TABLES = """SET 'parallelism.default' = '2';
CREATE TEMPORARY TABLE `src` (`k` STRING, `v` INT, `i` INT) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '20',
  'fields.k.length' = '1',
  'fields.i.min' = '1',
  'fields.i.max' = '5'
);
CREATE TEMPORARY TABLE `snk` (`k` STRING, `n` BIGINT, `s` BIGINT, PRIMARY KEY (`k`) NOT ENFORCED) WITH (
  'connector' = 'blackhole'
);
"""

RUNNING = TABLES + "INSERT INTO `snk` SELECT `k`, COUNT(*), SUM(`v`) FROM `src` GROUP BY `k`;\n"
COMPATIBLE = TABLES + "INSERT INTO `snk` SELECT `k`, COUNT(*) * 2, SUM(`v`) FROM `src` GROUP BY `k`;\n"
INCOMPATIBLE = (
    TABLES + "INSERT INTO `snk` SELECT CAST(`i` AS STRING), COUNT(*), SUM(`v`) FROM `src` GROUP BY `i`;\n"
)
DROP = TABLES + "INSERT INTO `snk` SELECT `k`, CAST(`v` AS BIGINT), CAST(`i` AS BIGINT) FROM `src`;\n"
