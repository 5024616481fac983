// The benches' option parsing: a bad value is refused with the option's name, never run as NaN.
import t from 'tap'
import { numberOption, numbersOption, OptionError, parseOptions } from './common.ts'

t.test('parseOptions: --name value, --name=value, a bare flag', async (t) => {
  const o = parseOptions(['--seconds', '10', '--rates=', '--verbose', '--x=1=2'])
  t.same([...o], [['seconds', '10'], ['rates', ''], ['verbose', 'true'], ['x', '1=2']])
  t.throws(() => parseOptions(['10']), new OptionError('unexpected argument "10"'))
})

t.test('numberOption: the fallback when absent; a number within its rule; else an error naming option and value', async (t) => {
  const o = parseOptions(['--seconds', '2.5', '--users', '24', '--kill', '1.5', '--ms', 'abc', '--empty=', '--neg', '-1'])
  t.equal(numberOption(o, 'absent', 7, { min: 0 }), 7)
  const caught = (() => { try { numberOption(o, 'ms', 1000, { min: 1 }) } catch (e) { return e } })()
  t.ok(caught instanceof OptionError, 'an OptionError: npm run bench prints it alone')
  t.equal(numberOption(o, 'seconds', 5, { min: 1 }), 2.5)
  t.equal(numberOption(o, 'users', 110, { min: 10, integer: true }), 24)
  t.throws(() => numberOption(o, 'kill', 1, { min: 0, integer: true }), { message: "--kill: expected a whole number ≥ 0, got '1.5'" })
  t.throws(() => numberOption(o, 'ms', 1000, { min: 1 }), { message: "--ms: expected a number ≥ 1, got 'abc'" })
  t.throws(() => numberOption(o, 'empty', 1000, { min: 1 }), { message: "--empty: expected a number ≥ 1, got ''" }, 'empty is not zero')
  t.throws(() => numberOption(o, 'seconds', 5, { min: 3 }), /--seconds: expected a number ≥ 3, got '2.5'/)
  t.throws(() => numberOption(o, 'neg', 0, { min: 0 }), { message: "--neg: expected a number ≥ 0, got '-1'" })
})

t.test('numbersOption: positive numbers separated by commas; empty for none', async (t) => {
  t.same(numbersOption(parseOptions([]), 'rates', [100, 200]), [100, 200])
  t.same(numbersOption(parseOptions(['--rates', '50,500']), 'rates', [100]), [50, 500])
  t.same(numbersOption(parseOptions(['--rates=']), 'rates', [100]), [])
  for (const bad of ['0', '100,,200', '100,x', '-5']) {
    t.throws(() => numbersOption(parseOptions([`--rates=${bad}`]), 'rates', [100]), { message: `--rates: expected positive numbers separated by commas, got '${bad}'` })
  }
})
