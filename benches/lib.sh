# Shared by the build benchmarks: timing and medians. Source it; it defines functions only.

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time_of CMD...: the seconds CMD took; a failing build stops the benchmark.
time_of() {
  local t0 out
  t0=$(now)
  if ! out=$("$@" 2>&1); then
    echo "FAILED: $*" >&2
    echo "$out" | tail -20 >&2
    exit 1
  fi
  echo "$(now) - $t0" | bc -l
}
