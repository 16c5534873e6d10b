// The private influxd the tests start; the implementation lives with the benchmark, which uses it too.
export { INFLUXD, type Influxd, startInfluxd } from '../bench/src/influxd.js';
