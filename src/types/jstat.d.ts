// jStat ships no types; these are the functions rtlat calls (https://jstat.github.io/distributions.html).
declare module 'jstat' {
  interface Distribution {
    cdf(x: number, ...parameters: number[]): number;
    inv(p: number, ...parameters: number[]): number;
  }
  const jStat: {
    chisquare: Distribution;
    normal: Distribution;
  };
  export default jStat;
}
