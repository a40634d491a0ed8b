/** Messages (or frames) per second over the last few seconds, for status displays and progress events. */
export class RateMeter {
  private readonly times: number[] = [];

  tick(now = Date.now()): void {
    this.times.push(now);
    while (this.times.length > 0 && now - this.times[0] > 3000) this.times.shift();
  }

  get perSecond(): number {
    if (this.times.length < 2) return 0;
    const span = (this.times[this.times.length - 1] - this.times[0]) / 1000;
    return span > 0 ? (this.times.length - 1) / span : 0;
  }
}
