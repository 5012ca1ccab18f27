"""Markdown tables of the JSON files written by run.py: ``python experiments/acgan/table.py FILE.json ...``."""
import json
import sys


def main():
    results = [(path, json.load(open(path))) for path in sys.argv[1:]]
    print("| run | step | class match | worst class | match with conf ≥ 0.9 | D's head on samples | "
          "D's head on 2,000 real | training wall-clock |")
    print("|---|---|---|---|---|---|---|---|")
    for path, r in results:
        wall = f"{r['train_wall_clock_s'] / 60:.1f} min" if r.get("train_wall_clock_s") else "–"
        print(f"| `{path.split('/')[-1]}` | {r['step']} | **{r['match']:.1%}** | {r['worst_class']:.0%} | "
              f"{r['match_conf90']:.1%} | {r.get('head_match_on_samples', float('nan')):.1%} | "
              f"{r.get('head_accuracy_on_real', float('nan')):.1%} | {wall} |")
    print()
    print("Per class, class match / match with confidence ≥ 0.9 (100 samples each):")
    print()
    print("| run | " + " | ".join(str(k) for k in range(10)) + " |")
    print("|---|" + "---|" * 10)
    for path, r in results:
        print(f"| `{path.split('/')[-1]}` | " + " | ".join(f"{c['match']:.0%} / {c['match_conf90']:.0%}"
                                                        for c in r["per_class"]) + " |")


if __name__ == "__main__":
    main()
