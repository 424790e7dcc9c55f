import t from 'tap'
import { assign, type AssignmentInput } from '../../../lib/runtime/partitions/assignment.js'
import type { PartitionRow } from '../../../lib/db/partitions.repo.js'

const rows = (holders: Array<string | null>, pids: Array<number | null> = []): PartitionRow[] =>
  holders.map((holder, partition) => ({ partition, holder, term: '1', session_pid: pids[partition] ?? (holder === null ? null : 100 + partition) }))
const input = (over: Partial<AssignmentInput>): AssignmentInput =>
  ({ count: 8, me: 'a', live: ['a'], rows: rows(Array(8).fill(null)), holding: new Set(), trying: new Set(), ...over })

t.test('alone, an instance takes every partition', async (t) => {
  t.match(assign(input({})), { share: 8, take: [0, 1, 2, 3, 4, 5, 6, 7], release: [], stop: [] })
})

t.test('a second instance joins: the first hands over its highest half, the second takes only free ones', async (t) => {
  const held = rows(Array(8).fill('a'))
  t.match(assign(input({ live: ['a', 'b'], rows: held, holding: new Set([0, 1, 2, 3, 4, 5, 6, 7]) })), { share: 4, release: [7, 6, 5, 4], take: [] })
  t.match(assign(input({ me: 'b', live: ['a', 'b'], rows: held })), { share: 4, take: [] }, 'nothing is free yet: it waits')
  const handedOver = rows(['a', 'a', 'a', 'a', null, null, null, null])
  t.match(assign(input({ me: 'b', live: ['a', 'b'], rows: handedOver })), { take: [4, 5, 6, 7] })
})

t.test('three instances share eight partitions 3, 3, 2 and move nothing that need not move', async (t) => {
  const held = rows(['a', 'a', 'a', 'b', 'b', 'b', null, null])
  const c = assign(input({ me: 'c', live: ['a', 'b', 'c'], rows: held }))
  t.same(c.take, [6, 7])
  const a = assign(input({ me: 'a', live: ['a', 'b', 'c'], rows: held, holding: new Set([0, 1, 2]) }))
  t.same([a.release, a.take], [[], []], 'at its share: keeps what it has')
})

t.test('a silent holder: its partitions are free, and its session is ended only where it still holds a lock', async (t) => {
  const held = rows(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'])
  const a = assign(input({ me: 'a', live: ['a'], rows: held, holding: new Set([0, 1, 2, 3]) }))
  t.same(a.take, [4, 5, 6, 7])
  t.same(a.endSessions, [{ partition: 4, pid: 104 }, { partition: 5, pid: 105 }, { partition: 6, pid: 106 }, { partition: 7, pid: 107 }])
  t.same(assign(input({ me: 'a', live: ['a', 'b'], rows: held, holding: new Set([0, 1, 2, 3]) })).take, [], 'alive: they stay its own')
})

t.test('a restarted instance takes its own partitions back first', async (t) => {
  const held = rows([null, 'a', null, 'a', null, 'a', null, 'a'])
  t.same(assign(input({ me: 'a', live: ['a', 'b'], rows: held })).take, [1, 3, 5, 7])
})

t.test('an attempt at a partition someone else took is given up; over the share, attempts stop', async (t) => {
  const held = rows(['b', null, null, null, null, null, null, null])
  const a = assign(input({ me: 'a', live: ['a', 'b'], rows: held, trying: new Set([0, 1]) }))
  t.same(a.stop, [0])
  t.same(a.take, [2, 3, 4])
  t.same(assign(input({ me: 'a', live: ['a', 'b'], rows: held, holding: new Set([2, 3, 4, 5]), trying: new Set([1]) })).stop, [1])
})
