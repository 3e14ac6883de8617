"""WooCommerce: the PHP plugin we ship (plugin/, downloadable as /plugins/woocommerce.zip; it speaks VOLTXT to the
bridge), and, for shops that cannot install plugins, a REST client that marks orders paid through the outbox.
"""
