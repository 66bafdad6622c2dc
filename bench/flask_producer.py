# The tutorial's producer.py, as the tutorial runs it (Flask's own server), for `make bench`.
import random
import sys

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/number")
def get_number():
    return jsonify({"number": random.randint(1, 180)})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
