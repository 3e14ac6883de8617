<?php
/**
 * Removes the plugin's settings when it is deleted (orders keep their invoice notes and meta).
 *
 * @package Voltbridge_WooCommerce
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

delete_option( 'woocommerce_voltbridge_settings' );
